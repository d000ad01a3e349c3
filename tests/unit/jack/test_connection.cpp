#include "jack/connection.hpp"

#include <gtest/gtest.h>

using lockstep::jack::Connection;
using lockstep::jack::parse_connection;
using lockstep::jack::qualify_port;

namespace {

TEST(ParseConnection, SplitsAtTheFirstEquals) {
    EXPECT_EQ(parse_connection("out=lockstep-sampler:in"),
              (Connection{"out", "lockstep-sampler:in"}));
    EXPECT_EQ(parse_connection("system:capture_1=in_1"), (Connection{"system:capture_1", "in_1"}));
    EXPECT_EQ(parse_connection("a=b=c"), (Connection{"a", "b=c"}));
}

TEST(ParseConnection, RejectsMalformedSpecsWithAReason) {
    std::string err;
    EXPECT_FALSE(parse_connection("out", &err));
    EXPECT_NE(err.find("SRC=DST"), std::string::npos);
    err.clear();
    EXPECT_FALSE(parse_connection("=in", &err));
    EXPECT_FALSE(err.empty());
    EXPECT_FALSE(parse_connection("out=", &err));
    EXPECT_FALSE(parse_connection("", &err));
}

TEST(QualifyPort, ShortNamesAreOurOwnPorts) {
    EXPECT_EQ(qualify_port("lockstep-seq", "out"), "lockstep-seq:out");
    EXPECT_EQ(qualify_port("lockstep-seq", "other:in"), "other:in");
    EXPECT_EQ(qualify_port("x", "Midi-Bridge:Midi Through Port-0 (capture)"),
              "Midi-Bridge:Midi Through Port-0 (capture)");
}

} // namespace
