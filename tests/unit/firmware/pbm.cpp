#include "pbm.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lockstep::fw::test {
namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

constexpr int w = static_cast<int>(display_width);
constexpr int h = static_cast<int>(display_height);

} // namespace

std::string to_pbm(const Framebuffer& fb) {
    std::string s = "P1\n128 64\n";
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            s += fb.get(x, y) ? '1' : '0';
        }
        s += '\n';
    }
    return s;
}

bool parse_pbm(const std::string& text, Framebuffer& fb, std::string& error) {
    std::size_t i = 0;
    // Reads the next token, skipping whitespace and comments.
    auto skip = [&] {
        while (i < text.size()) {
            if (text[i] == '#') {
                while (i < text.size() && text[i] != '\n') {
                    ++i;
                }
            } else if (std::isspace(static_cast<unsigned char>(text[i])) != 0) {
                ++i;
            } else {
                return;
            }
        }
    };
    auto number = [&](int& out) {
        skip();
        const std::size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
            ++i;
        }
        if (start == i) {
            return false;
        }
        out = std::atoi(text.substr(start, i - start).c_str());
        return true;
    };
    if (text.compare(0, 2, "P1") != 0) {
        error = "not a plain PBM (P1)";
        return false;
    }
    i = 2;
    int width = 0;
    int height = 0;
    if (!number(width) || !number(height) || width != w || height != h) {
        error = "size is not 128x64";
        return false;
    }
    fb.clear();
    for (int p = 0; p < w * h; ++p) {
        skip();
        if (i >= text.size() || (text[i] != '0' && text[i] != '1')) {
            error = "truncated or bad pixel at " + std::to_string(p);
            return false;
        }
        fb.set(p % w, p / w, text[i] == '1');
        ++i;
    }
    return true;
}

::testing::AssertionResult matches_image(const Framebuffer& fb, const std::string& name) {
    const std::string expected_path =
        env_or("LOCKSTEP_SOURCE_ROOT", ".") + "/tests/data/firmware/" + name + ".pbm";
    if (env_or("LOCKSTEP_UPDATE_IMAGES", "") == "1") {
        std::ofstream(expected_path) << to_pbm(fb);
        return ::testing::AssertionSuccess() << "wrote " << expected_path;
    }
    std::ifstream in(expected_path);
    std::stringstream text;
    text << in.rdbuf();
    Framebuffer expected;
    std::string error;
    const bool loaded = in.good() && parse_pbm(text.str(), expected, error);
    if (loaded && expected == fb) {
        return ::testing::AssertionSuccess();
    }
    const std::string actual_path =
        env_or("LOCKSTEP_BUILD_ROOT", ".") + "/tests/unit/firmware/" + name + ".actual.pbm";
    std::ofstream(actual_path) << to_pbm(fb);
    if (!loaded) {
        return ::testing::AssertionFailure()
               << "cannot load " << expected_path << ": " << (error.empty() ? "unreadable" : error)
               << "; actual image in " << actual_path;
    }
    int count = 0;
    int x0 = w;
    int x1 = -1;
    int y0 = h;
    int y1 = -1;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            if (fb.get(x, y) != expected.get(x, y)) {
                ++count;
                x0 = std::min(x0, x);
                x1 = std::max(x1, x);
                y0 = std::min(y0, y);
                y1 = std::max(y1, y);
            }
        }
    }
    return ::testing::AssertionFailure()
           << name << ": " << count << " pixels differ in rows " << y0 << ".." << y1 << ", columns "
           << x0 << ".." << x1 << "; actual image in " << actual_path << " (expected "
           << expected_path << ")";
}

} // namespace lockstep::fw::test
