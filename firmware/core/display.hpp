#pragma once
// The box's 128x64 1-bit view (SH1106 OLED): a framebuffer in the controller's page layout,
// drawing primitives, a built-in 5x7 font, the view renderer and the SH1106 page writes.
//
// Every function is for the main loop only (never the timer ISR): the device layer renders
// after UI or sequencer changes and streams the pages out between other work.
#include "core/sequencer.hpp"

#include <cstddef>
#include <cstdint>

namespace lockstep::fw {

struct UiState; // core/ui.hpp

inline constexpr unsigned display_width = 128;
inline constexpr unsigned display_height = 64;
inline constexpr unsigned display_pages = display_height / 8;

// Page layout as the SH1106 stores it: byte [page * 128 + x] holds the 8 pixels of column x
// in rows page*8 .. page*8+7, bit 0 = the top row. A set bit is a lit pixel.
class Framebuffer {
public:
    void clear() { fill(false); }
    void fill(bool on);
    // Drawing clips to the screen: coordinates may be negative or beyond the edges.
    void set(int x, int y, bool on = true);
    bool get(int x, int y) const;
    void hline(int x, int y, int w, bool on = true);
    void vline(int x, int y, int h, bool on = true);
    void line(int x0, int y0, int x1, int y1, bool on = true); // Bresenham, both ends drawn
    void rect(int x, int y, int w, int h, bool on = true);     // outline
    void fill_rect(int x, int y, int w, int h, bool on = true);
    void invert_rect(int x, int y, int w, int h);
    // Text in 6x8 cells (5x7 glyphs and a blank column), ASCII 32..126 (others: '?'); y is
    // the top of the cell. invert: dark glyphs on lit cells with a lit column before them. Returns
    // the x after the text.
    int text(int x, int y, const char* s, bool invert = false);
    int glyph(int x, int y, char c, bool invert = false);

    const std::uint8_t* page(unsigned p) const { return bytes + p * display_width; }
    std::uint8_t bytes[display_pages * display_width] = {};
};
bool operator==(const Framebuffer& a, const Framebuffer& b);
inline bool operator!=(const Framebuffer& a, const Framebuffer& b) {
    return !(a == b);
}

inline constexpr int font_width = 6;                                 // advance per character
inline constexpr int font_height = 8;                                // line pitch
inline constexpr unsigned text_columns = display_width / font_width; // 21

// Draws the whole view (see firmware/README.md for the layout): header with pattern, tempo,
// transport and link state; the tracks x 16 steps grid (or the song chain in song edit); the
// mode line with the transient message; the confirm dialog and help overlay on top.
void render(const Sequencer& seq, const UiState& ui, Framebuffer& fb);

// SH1106: 132-column RAM of which the 128x64 glass shows columns 2..129.
inline constexpr std::uint8_t sh1106_column_offset = 2;
inline constexpr std::size_t sh1106_page_commands = 3;
inline constexpr std::size_t sh1106_page_bytes = sh1106_page_commands + display_width; // 131
// One page write: out[0..2] are the commands (set page 0xB0+p, lower column 0x02, upper
// column 0x10), out[3..130] the page's 128 data bytes. On I2C the device layer sends the
// commands after a 0x00 control byte and the data after 0x40; on SPI with D/C low then high.
// Returns the bytes written (131), or 0 if p >= 8 or cap is too small.
std::size_t sh1106_page(const Framebuffer& fb, unsigned p, std::uint8_t* out, std::size_t cap);

// Formats v as decimal into out (NUL-terminated), at least min_digits digits (zero-padded).
// Returns the characters written. out must hold 11 bytes.
std::size_t format_uint(std::uint32_t v, unsigned min_digits, char* out);
// BPM*100 as "137.30". out must hold 12 bytes.
std::size_t format_tempo(std::uint32_t bpm100, char* out);

} // namespace lockstep::fw
