#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "fte/testing/child_process.hpp"

namespace fte::testing {

CommandResult run_command(const std::string& command) {
  std::array<char, 32> err_path{"/tmp/fte-command-err-XXXXXX"};
  const int fd = mkstemp(err_path.data());
  if (fd < 0) throw std::runtime_error("run_command: no temporary file for stderr");
  close(fd);
  CommandResult result;
  const std::string with_stderr = command + " 2>" + err_path.data();
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(with_stderr.c_str(), "r"), &pclose);
  if (!pipe) throw std::runtime_error("run_command: cannot start " + command);
  std::array<char, 4096> buffer{};
  while (const auto n = std::fread(buffer.data(), 1, buffer.size(), pipe.get()))
    result.out.append(buffer.data(), n);
  const int status = pclose(pipe.release());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path.data());
  std::stringstream text;
  text << err.rdbuf();
  result.err = text.str();
  std::remove(err_path.data());
  return result;
}

} // namespace fte::testing
