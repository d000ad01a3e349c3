// Runs a program and succeeds only when it failed with a RealtimeSanitizer report on
// stderr. Used to prove that the RTSan build catches a deliberate violation.
#include <cerrno>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        std::perror("pipe");
        return 2;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        return 2;
    }
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[1], argv + 1);
        std::perror("execv");
        _exit(127);
    }
    close(fds[1]);
    std::string output;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) {
            output.append(buf, static_cast<std::size_t>(n));
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::fwrite(output.data(), 1, output.size(), stdout); // for the test log
    const bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    const bool reported = output.find("RealtimeSanitizer") != std::string::npos;
    std::printf("\nrtsan_expect_report: program %s, RTSan report %s\n",
                failed ? "failed" : "exited 0", reported ? "present" : "missing");
    return failed && reported ? 0 : 1;
}
