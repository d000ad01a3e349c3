// Helper for harness_server_test: starts a TestServer, reports it and waits to be
// killed, to show that a test process dying abruptly does not leave its server behind.
#include "harness/server.hpp"

#include <unistd.h>

#include <cstdio>

int main() {
    lockstep::test::TestServer server;
    std::printf("server pid=%d dir=%s name=%s\n", static_cast<int>(server.pid()),
                server.dir().c_str(), server.name().c_str());
    std::fflush(stdout);
    pause(); // until the test kills us
    return 0;
}
