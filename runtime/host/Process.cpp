//===- Process.cpp - Run a program and capture its output -----------------===//

#include "runtime/host/Process.h"

#include "runtime/support/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace awq {
namespace host {

ProcessResult runProcess(const std::vector<std::string> &argv) {
  if (argv.empty())
    throw Error("runProcess: empty command");
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0)
    throw Error("runProcess: pipe failed: " +
                std::string(std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  std::vector<char *> args;
  for (const std::string &word : argv)
    args.push_back(const_cast<char *>(word.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawnError =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipeFds[1]);
  if (spawnError != 0) {
    close(pipeFds[0]);
    throw Error("cannot run '" + argv[0] + "': " + std::strerror(spawnError));
  }
  ProcessResult result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(pipeFds[0], buffer, sizeof(buffer));
    if (n > 0)
      result.output.append(buffer, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  close(pipeFds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::vector<std::string> splitCommand(const std::string &command) {
  std::istringstream stream(command);
  std::vector<std::string> words;
  std::string word;
  while (stream >> word)
    words.push_back(word);
  return words;
}

std::string joinCommand(const std::vector<std::string> &argv) {
  std::string text;
  for (const std::string &word : argv) {
    if (!text.empty())
      text += ' ';
    if (word.find_first_of(" \t'\"") != std::string::npos)
      text += "'" + word + "'";
    else
      text += word;
  }
  return text;
}

} // namespace host
} // namespace awq
