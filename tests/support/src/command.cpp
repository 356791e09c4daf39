#include "fte/testing/command.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <sys/wait.h>
#include <unistd.h>

namespace fte::testing {
namespace {

// A file for the command's stderr, removed when the run is over.
class TemporaryFile {
public:
  TemporaryFile() {
    const int fd = mkstemp(path_.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed for " + std::string(path_.data()));
    close(fd);
  }
  ~TemporaryFile() { std::remove(path_.data()); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  [[nodiscard]] std::string path() const { return path_.data(); }

private:
  std::array<char, 32> path_{"/tmp/fte-command-XXXXXX"};
};

} // namespace

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

CommandResult run_command(const std::string& binary, const std::string& args,
                          const std::map<std::string, std::string>& env) {
  const TemporaryFile err;
  std::string command;
  for (const auto& [name, value] : env)
    command += name + "=" + shell_quote(value) + " ";
  command += shell_quote(binary) + " " + args + " 2>" + err.path();
  CommandResult result;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  if (!pipe) throw std::runtime_error("popen failed for " + command);
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr)
    result.out += buffer.data();
  const int status = pclose(pipe.release());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream file(err.path());
  std::stringstream text;
  text << file.rdbuf();
  result.err = text.str();
  return result;
}

} // namespace fte::testing
