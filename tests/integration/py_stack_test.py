"""The Python suites' own view of the stack (tests/support/py) against the
real Kafka and PostgreSQL: scratch topics made by the `fte` CLI, end and
committed offsets read over the Kafka protocol (what the channel tests'
"nothing published" rests on), scratch databases migrated and dropped."""

import unittest

import fte_stack
import kafka_wire


class KafkaWire(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topics = fte_stack.ScratchTopics(fte_stack.unique_name("it-py") + ".")
        cls.addClassCleanup(cls.topics.delete)
        cls.kafka = cls.topics.kafka

    def test_the_contract_topics_exist_with_twelve_partitions(self):
        meta = self.kafka.metadata(list(self.topics.names.values()))["topics"]
        self.assertEqual(len(meta), len(fte_stack.TOPICS))
        self.assertEqual(len(meta), 8)
        for name, info in meta.items():
            self.assertEqual((info["error"], len(info["partitions"])), (0, fte_stack.PARTITIONS), name)

    def test_end_offsets_move_only_with_records(self):
        topic = self.topics["dlq"]
        before = self.kafka.end_offsets(topic)
        self.assertEqual(set(before), set(range(fte_stack.PARTITIONS)))
        self.assertEqual(self.kafka.end_offsets(topic), before)
        offset = self.kafka.produce(topic, 3, b"key", b"value")
        self.assertEqual(offset, before[3])
        after = self.kafka.end_offsets(topic)
        self.assertEqual(after[3], before[3] + 1)
        self.assertEqual({p: o for p, o in after.items() if p != 3}, {p: o for p, o in before.items() if p != 3})

    def test_committed_offsets_and_caught_up(self):
        topic = self.topics["metrics_agent"]
        group = fte_stack.unique_name("it-py-group")
        self.assertEqual(set(self.kafka.committed(group, topic).values()), {-1})
        self.assertTrue(self.kafka.caught_up(group, topic), "an empty topic needs no commit")
        self.kafka.produce(topic, 5, None, b"one")
        self.kafka.produce(topic, 5, None, b"two")
        self.assertFalse(self.kafka.caught_up(group, topic))
        self.kafka.commit(group, topic, {5: 1})
        self.assertEqual(self.kafka.committed(group, topic)[5], 1)
        self.assertFalse(self.kafka.caught_up(group, topic))
        self.kafka.commit(group, topic, {5: 2})
        self.assertTrue(self.kafka.caught_up(group, topic))

    def test_deleted_topics_are_gone(self):
        scratch = fte_stack.ScratchTopics(fte_stack.unique_name("it-py-del") + ".")
        scratch.delete()
        gone = fte_stack.eventually(lambda: all(
            info["error"] == 3 for info in self.kafka.metadata(list(scratch.names.values()))["topics"].values()), 15)
        self.assertTrue(gone)

    def test_an_unreachable_broker_is_an_error_not_a_hang(self):
        with self.assertRaises(OSError):
            kafka_wire.Kafka("127.0.0.1:%d" % fte_stack.free_port(), timeout=2).metadata([])


class ScratchDatabases(unittest.TestCase):
    def test_migrated_usable_and_dropped(self):
        database = fte_stack.ScratchDatabase()
        try:
            self.assertGreater(database.count("SELECT count(*) FROM knowledge_base"), 0, "seeded by the migrations")
            hostile = "x'); DROP TABLE customers; --"
            self.assertEqual(database.value("SELECT :'v'::text", v=hostile), hostile, "values are psql variables")
            self.assertEqual(database.count("SELECT count(*) FROM customers"), 0)
            self.assertEqual(database.rows("SELECT 1 WHERE false"), [])
            self.assertEqual(database.rows("SELECT 'a', 'b\nc'"), [["a", "b\nc"]])
        finally:
            database.drop()
        self.assertEqual(database.admin.count("SELECT count(*) FROM pg_database WHERE datname = :'n'", n=database.name), 0)


if __name__ == "__main__":
    unittest.main()
