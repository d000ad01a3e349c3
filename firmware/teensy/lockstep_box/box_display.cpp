#include "box_display.hpp"

#include <Wire.h>

namespace box {
namespace {

constexpr std::uint8_t address = 0x3C;
lockstep::fw::Framebuffer frame;
unsigned next_page = lockstep::fw::display_pages; // = idle

void send(std::uint8_t control, const std::uint8_t* bytes, std::size_t n) {
    // Chunks of 16 bytes fit every Wire buffer; the column address auto-increments.
    while (n > 0) {
        const std::size_t k = n < 16 ? n : 16;
        Wire.beginTransmission(address);
        Wire.write(control);
        Wire.write(bytes, k);
        Wire.endTransmission();
        bytes += k;
        n -= k;
    }
}

} // namespace

void display_begin() {
    Wire.begin();
    Wire.setClock(400'000);
    static constexpr std::uint8_t init[] = {
        0xAE,       // display off
        0xD5, 0x80, // clock divide
        0xA8, 0x3F, // multiplex 64
        0xD3, 0x00, // display offset 0
        0x40,       // start line 0
        0xAD, 0x8B, // DC-DC converter on (SH1106)
        0xA1,       // segment remap (column 127 at SEG0)
        0xC8,       // COM scan descending
        0xDA, 0x12, // COM pins
        0x81, 0x80, // contrast
        0xD9, 0x22, // pre-charge
        0xDB, 0x35, // VCOMH
        0xA4,       // show RAM
        0xA6,       // normal (not inverted)
        0xAF,       // display on
    };
    send(0x00, init, sizeof init);
    frame.clear();
    next_page = 0;
}

bool display_idle() {
    return next_page >= lockstep::fw::display_pages;
}

void display_show(const lockstep::fw::Framebuffer& fb) {
    frame = fb;
    next_page = 0;
}

void display_service() {
    if (display_idle()) {
        return;
    }
    std::uint8_t buf[lockstep::fw::sh1106_page_bytes];
    const std::size_t n = lockstep::fw::sh1106_page(frame, next_page++, buf, sizeof buf);
    if (n == 0) {
        return;
    }
    send(0x00, buf, lockstep::fw::sh1106_page_commands);
    send(0x40, buf + lockstep::fw::sh1106_page_commands, n - lockstep::fw::sh1106_page_commands);
}

} // namespace box
