#include <gtest/gtest.h>

#include "commands.hpp"
#include "progress.hpp"
#include "replay_sandbox.hpp"

namespace fte::cli {
namespace {

TEST(SandboxNames, DeriveTopicsGroupsAndDatabaseFromTheLiveDeployment) {
  const auto names = SandboxNames::derive("kb-try_2", "e2e-1a.", "postgresql://fte@127.0.0.1:15432/fte_test_ab?x=1");
  EXPECT_EQ(names.topic_prefix, "e2e-1a.fte.sandbox.kb-try_2.");
  EXPECT_EQ(names.database, "fte_test_ab_sbx_kb_try_2");
  EXPECT_EQ(names.database_url, "postgresql://fte@127.0.0.1:15432/fte_test_ab_sbx_kb_try_2?x=1");
  EXPECT_EQ(names.group("agent-worker"), "e2e-1a.fte.sandbox.kb-try_2.fte.agent-worker");
  EXPECT_EQ(names.groups().size(), kSandboxServices.size());
  EXPECT_EQ(SandboxNames::derive("x", "", "postgresql://fte@h/fte").topic_prefix, "fte.sandbox.x.");
}

TEST(SandboxNames, RefuseNamesThatCannotBeTopicsOrDatabases) {
  for (const auto* bad : {"", "Upper", "with space", "dot.ted", "a-name-longer-than-24-chars", "semi;colon"}) {
    EXPECT_THROW((void)SandboxNames::derive(bad, "", "postgresql://fte@h/fte"), UsageError) << bad;
  }
}

TEST(Progress, SaysDoneOfTotalRateAndEta) {
  EXPECT_EQ(Progress::describe("records copied", 250, 1000, 0.5), "250 of 1,000 records copied (25.0%), 500/s, ETA 2s");
  EXPECT_EQ(Progress::describe("records copied", 1000, 1000, 2.0), "1,000 of 1,000 records copied (100.0%), 500/s");
  EXPECT_EQ(Progress::describe("records scanned", 12345, 0, 1.0), "12,345 records scanned, 12,345/s");
  EXPECT_EQ(Progress::describe("records copied", 0, 10, 0.0), "0 of 10 records copied (0.0%)");
}

TEST(Progress, PrintsPlainLinesWithoutATerminal) {
  std::ostringstream out;
  Progress progress("records copied", 3, out, /*terminal=*/false);
  progress.advance(3);
  progress.finish();
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
  EXPECT_NE(out.str().find("3 of 3 records copied (100.0%)"), std::string::npos) << out.str();
}

} // namespace
} // namespace fte::cli
