"""Just enough of the Kafka protocol for Python tests to check what a topic
holds without a Kafka client library (Debian's python3 has none installed):
topic metadata, end offsets (ListOffsets), a group's committed offsets
(FindCoordinator + OffsetFetch), topic deletion and a plain produce.

Old, non-flexible request versions (Metadata v1, ListOffsets v1, OffsetFetch
v1, FindCoordinator v0, DeleteTopics v1, Produce v2 with a v1 message set):
Kafka 3.9 serves them all (KIP-896 removes some only in 4.0), and they need
no tagged fields or varints. Reference: the Kafka protocol guide
(kafka.apache.org/protocol) and clients/src/main/resources/common/message/*.json.
"""

import socket
import struct
import threading
import time
import zlib

METADATA, LIST_OFFSETS, OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, DELETE_TOPICS, PRODUCE = 3, 2, 8, 9, 10, 20, 0
LATEST = -1


# Errors that pass by themselves: UNKNOWN_TOPIC_OR_PARTITION (3) and
# LEADER_NOT_AVAILABLE (5) and NOT_LEADER_OR_FOLLOWER (6) just after a topic is
# created, COORDINATOR_LOAD_IN_PROGRESS (14), COORDINATOR_NOT_AVAILABLE (15,
# while __consumer_offsets is being created), NOT_COORDINATOR (16).
RETRIABLE = {3, 5, 6, 14, 15, 16}


class KafkaError(Exception):
    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


def retrying(call, timeout=15.0):
    """Runs `call` until it does not fail with a retriable error, for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaError as error:
            if error.code not in RETRIABLE or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


class Writer:
    def __init__(self):
        self.parts = []

    def int8(self, v):
        self.parts.append(struct.pack(">b", v))
        return self

    def int16(self, v):
        self.parts.append(struct.pack(">h", v))
        return self

    def int32(self, v):
        self.parts.append(struct.pack(">i", v))
        return self

    def int64(self, v):
        self.parts.append(struct.pack(">q", v))
        return self

    def string(self, s):
        if s is None:
            return self.int16(-1)
        data = s.encode("utf-8")
        self.int16(len(data))
        self.parts.append(data)
        return self

    def bytes_(self, b):
        if b is None:
            return self.int32(-1)
        self.int32(len(b))
        self.parts.append(b)
        return self

    def array(self, items, write_item):
        if items is None:
            return self.int32(-1)
        self.int32(len(items))
        for item in items:
            write_item(self, item)
        return self

    def build(self):
        return b"".join(self.parts)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, fmt, size):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return value

    def int8(self):
        return self._take(">b", 1)

    def int16(self):
        return self._take(">h", 2)

    def int32(self):
        return self._take(">i", 4)

    def int64(self):
        return self._take(">q", 8)

    def string(self):
        n = self.int16()
        if n < 0:
            return None
        value = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return value

    def array(self, read_item):
        n = self.int32()
        return [read_item(self) for _ in range(max(n, 0))]


class Connection:
    def __init__(self, host, port, timeout=10.0, client_id="fte-py-test"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.client_id = client_id
        self.correlation = 0
        self.lock = threading.Lock()

    def close(self):
        self.sock.close()

    def _read_exactly(self, n):
        chunks, left = [], n
        while left:
            chunk = self.sock.recv(left)
            if not chunk:
                raise KafkaError("connection closed by the broker")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def request(self, api_key, version, body):
        with self.lock:
            self.correlation += 1
            header = Writer().int16(api_key).int16(version).int32(self.correlation).string(self.client_id).build()
            payload = header + body
            self.sock.sendall(struct.pack(">i", len(payload)) + payload)
            size = struct.unpack(">i", self._read_exactly(4))[0]
            reader = Reader(self._read_exactly(size))
            if reader.int32() != self.correlation:
                raise KafkaError("correlation id mismatch")
            return reader


class Kafka:
    """A few admin and read calls against one bootstrap address. Every call
    opens its own connection to the broker that must answer it."""

    def __init__(self, bootstrap, timeout=10.0):
        host, _, port = bootstrap.split(",")[0].rpartition(":")
        self.bootstrap = (host, int(port))
        self.timeout = timeout

    def _connect(self, address=None):
        host, port = address or self.bootstrap
        return Connection(host, port, self.timeout)

    def _call(self, api_key, version, body, address=None):
        connection = self._connect(address)
        try:
            return connection.request(api_key, version, body)
        finally:
            connection.close()

    def metadata(self, topics=None):
        """{"brokers": {id: (host, port)}, "topics": {name: {"error": code, "partitions": {p: leader}}}}."""
        body = Writer().array(topics, lambda w, t: w.string(t)).build()
        r = self._call(METADATA, 1, body)
        brokers = {}
        for node, host, port, _rack in r.array(lambda r: (r.int32(), r.string(), r.int32(), r.string())):
            brokers[node] = (host, port)
        r.int32()  # controller id

        def partition(r):
            error, index, leader = r.int16(), r.int32(), r.int32()
            r.array(lambda r: r.int32())
            r.array(lambda r: r.int32())
            return index, leader, error

        out = {}
        for error, name, _internal, partitions in r.array(
                lambda r: (r.int16(), r.string(), r.int8(), r.array(partition))):
            out[name] = {"error": error, "partitions": {p: leader for p, leader, _ in partitions}}
        return {"brokers": brokers, "topics": out}

    def partitions(self, topic):
        meta = self.metadata([topic])
        info = meta["topics"].get(topic)
        if not info or info["error"] != 0:
            raise KafkaError("topic %s: error %s" % (topic, info and info["error"]), info and info["error"])
        return meta, info["partitions"]

    def _end_offsets(self, topic):
        """High watermark of each partition: {partition: offset}."""
        meta, partitions = self.partitions(topic)
        by_leader = {}
        for p, leader in partitions.items():
            by_leader.setdefault(leader, []).append(p)
        result = {}
        for leader, parts in by_leader.items():
            body = (Writer().int32(-1).array([topic], lambda w, t: w.string(t).array(
                sorted(parts), lambda w, p: w.int32(p).int64(LATEST))).build())
            r = self._call(LIST_OFFSETS, 1, body, meta["brokers"].get(leader))
            for _name, rows in r.array(lambda r: (r.string(), r.array(
                    lambda r: (r.int32(), r.int16(), r.int64(), r.int64())))):
                for p, error, _ts, offset in rows:
                    if error:
                        raise KafkaError("ListOffsets %s/%d: error %d" % (topic, p, error), error)
                    result[p] = offset
        return result

    def _coordinator(self, group):
        r = self._call(FIND_COORDINATOR, 0, Writer().string(group).build())
        error, _node, host, port = r.int16(), r.int32(), r.string(), r.int32()
        if error:
            raise KafkaError("FindCoordinator %s: error %d" % (group, error), error)
        return host, port

    def _commit(self, group, topic, offsets):
        # generation -1 and no member id: a commit outside any group
        # membership, as a standalone consumer makes.
        body = (Writer().string(group).int32(-1).string("").int64(-1).array([topic], lambda w, t: w.string(t).array(
            sorted(offsets.items()), lambda w, po: w.int32(po[0]).int64(po[1]).string(None))).build())
        r = self._call(OFFSET_COMMIT, 2, body, self._coordinator(group))
        for _name, rows in r.array(lambda r: (r.string(), r.array(lambda r: (r.int32(), r.int16())))):
            for p, error in rows:
                if error:
                    raise KafkaError("OffsetCommit %s %s/%d: error %d" % (group, topic, p, error), error)

    def _committed(self, group, topic):
        """The group's committed offset per partition (-1 when none)."""
        _, partitions = self.partitions(topic)
        host, port = self._coordinator(group)
        body = Writer().string(group).array([topic], lambda w, t: w.string(t).array(
            sorted(partitions), lambda w, p: w.int32(p))).build()
        r = self._call(OFFSET_FETCH, 1, body, (host, port))
        result = {}
        for _name, rows in r.array(lambda r: (r.string(), r.array(
                lambda r: (r.int32(), r.int64(), r.string(), r.int16())))):
            for p, offset, _meta, error in rows:
                if error:
                    raise KafkaError("OffsetFetch %s %s/%d: error %d" % (group, topic, p, error), error)
                result[p] = offset
        return result

    def end_offsets(self, topic):
        """High watermark of each partition: {partition: offset}."""
        return retrying(lambda: self._end_offsets(topic), self.timeout)

    def committed(self, group, topic):
        """The group's committed offset per partition (-1 when none)."""
        return retrying(lambda: self._committed(group, topic), self.timeout)

    def produce(self, topic, partition, key, value, timestamp_ms=None):
        """One record with acks=all; returns its offset."""
        return retrying(lambda: self._produce(topic, partition, key, value, timestamp_ms), self.timeout)

    def commit(self, group, topic, offsets):
        """Commits {partition: offset} for `group` (tests of this module use it)."""
        return retrying(lambda: self._commit(group, topic, offsets), self.timeout)

    def caught_up(self, group, topic):
        """Every partition with records has the group's commit at its end."""
        ends = self.end_offsets(topic)
        committed = self.committed(group, topic)
        return all(end == 0 or committed.get(p, -1) >= end for p, end in ends.items())

    def delete_topics(self, names, timeout_ms=15000):
        if not names:
            return {}
        # Deletion goes to the controller; with KRaft any broker forwards it.
        body = Writer().array(list(names), lambda w, t: w.string(t)).int32(timeout_ms).build()
        r = self._call(DELETE_TOPICS, 1, body)
        r.int32()  # throttle
        return dict(r.array(lambda r: (r.string(), r.int16())))

    def _produce(self, topic, partition, key, value, timestamp_ms=None):
        """One record with acks=all; returns its offset."""
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        message = Writer().int8(1).int8(0).int64(ts).bytes_(key).bytes_(value).build()  # magic 1, no compression
        message = struct.pack(">I", zlib.crc32(message) & 0xffffffff) + message
        message_set = Writer().int64(0).int32(len(message)).build() + message
        body = (Writer().int16(-1).int32(10000).array([topic], lambda w, t: w.string(t).array(
            [partition], lambda w, p: w.int32(p).bytes_(message_set))).build())
        meta, partitions = self.partitions(topic)
        r = self._call(PRODUCE, 2, body, meta["brokers"].get(partitions[partition]))
        for _name, rows in r.array(lambda r: (r.string(), r.array(
                lambda r: (r.int32(), r.int16(), r.int64(), r.int64())))):
            for _p, error, offset, _append in rows:
                if error:
                    raise KafkaError("Produce %s/%d: error %d" % (topic, partition, error), error)
                return offset
        raise KafkaError("Produce %s/%d: no answer" % (topic, partition))
