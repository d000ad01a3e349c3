// `--device auto` over fake /dev and /sys trees.
#include "discovery.hpp"
#include "harness/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using lockstep::bridge::find_device;
using lockstep::bridge::resolve_device;
using lockstep::test::TempDir;

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text << "\n";
}

TEST(BridgeDiscovery, NothingInAnEmptyTree) {
    TempDir dir{"bridge-disc"};
    EXPECT_EQ(find_device(dir.path()), "");
    EXPECT_EQ(resolve_device("auto", dir.path()), "");
    EXPECT_EQ(resolve_device("/dev/ttyACM7", dir.path()), "/dev/ttyACM7");
}

TEST(BridgeDiscovery, PrefersATeensyByIdNameAndKeepsTheSymlink) {
    TempDir dir{"bridge-disc"};
    const fs::path byid = fs::path(dir.path()) / "dev/serial/by-id";
    fs::create_directories(byid);
    fs::create_symlink("../../ttyUSB0", byid / "usb-FTDI_FT232R_USB_UART_A1-if00-port0");
    fs::create_symlink("../../ttyACM1", byid / "usb-Teensyduino_USB_Serial_1234560-if00");
    fs::create_symlink("../../ttyACM0", byid / "usb-lockstep_box_99-if00");
    // Sorted by name: "usb-Teensyduino..." < "usb-lockstep..." (uppercase first).
    EXPECT_EQ(find_device(dir.path()), (byid / "usb-Teensyduino_USB_Serial_1234560-if00").string());
}

TEST(BridgeDiscovery, FallsBackToTheUsbIdInSysfs) {
    TempDir dir{"bridge-disc"};
    const fs::path r(dir.path());
    fs::create_directories(r / "dev/serial/by-id");
    fs::create_symlink("../../ttyUSB0", r / "dev/serial/by-id/usb-FTDI_FT232R-if00-port0");
    // ttyACM0: another vendor; ttyACM3: a Teensy (device -> interface dir, ids one up).
    write(r / "sys/devices/usb1/1-1/idVendor", "2341");
    write(r / "sys/devices/usb1/1-1/idProduct", "0043");
    fs::create_directories(r / "sys/devices/usb1/1-1/1-1:1.0");
    write(r / "sys/devices/usb1/1-2/idVendor", "16c0");
    write(r / "sys/devices/usb1/1-2/idProduct", "0483");
    fs::create_directories(r / "sys/devices/usb1/1-2/1-2:1.0");
    fs::create_directories(r / "sys/class/tty/ttyACM0");
    fs::create_directories(r / "sys/class/tty/ttyACM3");
    fs::create_directories(r / "sys/class/tty/ttyS0");
    fs::create_symlink(r / "sys/devices/usb1/1-1/1-1:1.0", r / "sys/class/tty/ttyACM0/device");
    fs::create_symlink(r / "sys/devices/usb1/1-2/1-2:1.0", r / "sys/class/tty/ttyACM3/device");
    EXPECT_EQ(find_device(dir.path()), (r / "dev/ttyACM3").string());
}

} // namespace
