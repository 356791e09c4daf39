#pragma once

#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fte/testing/stack.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {

/// A test class whose tests share one Suite (topics, database, the four
/// services), started by the first test and stopped after the last.
///
/// It starts in SetUp, not in SetUpTestSuite: a failure there makes gtest
/// report the class's tests as skipped, and a stack that is not there must
/// fail them. `Derived::suite_env()` (hide this one) gives the services
/// extra environment.
template <class Derived> class SharedSuiteTest : public ::testing::Test {
public:
  static std::map<std::string, std::string> suite_env() { return {}; }

protected:
  static void TearDownTestSuite() { suite.reset(); }

  void SetUp() override {
    if (suite) return;
    require_kafka(StackAddresses::from_env());
    if (HasFatalFailure()) return;
    suite = std::make_unique<Suite>(Derived::suite_env()); // throws: the test fails with the reason
  }

  inline static std::unique_ptr<Suite> suite;
};

} // namespace fte::testing
