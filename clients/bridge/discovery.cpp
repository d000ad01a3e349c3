#include "discovery.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

namespace lockstep::bridge {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string read_word(const fs::path& p) {
    std::ifstream in(p);
    std::string w;
    in >> w;
    return lower(w);
}

// The USB device of a tty: sysfs's <tty>/device is the interface; idVendor/idProduct sit
// in its parent (the device). Walk up a few levels to be safe across drivers.
bool is_teensy(const fs::path& tty_dir) {
    std::error_code ec;
    fs::path dev = fs::canonical(tty_dir / "device", ec);
    if (ec) {
        // A fake tree may use a plain directory instead of a symlink.
        dev = tty_dir / "device";
        if (!fs::exists(dev, ec)) {
            return false;
        }
    }
    for (int up = 0; up < 4 && !dev.empty(); ++up) {
        if (fs::exists(dev / "idVendor", ec)) {
            return read_word(dev / "idVendor") == "16c0" && read_word(dev / "idProduct") == "0483";
        }
        if (dev == dev.parent_path()) {
            break;
        }
        dev = dev.parent_path();
    }
    return false;
}

} // namespace

std::string find_device(const std::string& root) {
    const fs::path r(root);
    for (const fs::path& p : sorted_entries(r / "dev/serial/by-id")) {
        const std::string name = lower(p.filename().string());
        if (name.find("teensy") != std::string::npos ||
            name.find("lockstep") != std::string::npos) {
            return p.string();
        }
    }
    for (const fs::path& p : sorted_entries(r / "sys/class/tty")) {
        if (is_teensy(p)) {
            return (r / "dev" / p.filename()).string();
        }
    }
    return {};
}

std::string resolve_device(const std::string& spec, const std::string& root) {
    return spec == "auto" ? find_device(root) : spec;
}

} // namespace lockstep::bridge
