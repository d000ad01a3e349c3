#include "core/display.hpp"

#include "core/ui.hpp"

#include <cstring>

namespace lockstep::fw {
namespace {

// The classic public-domain 5x7 font, ASCII 32..126: five columns per glyph, bit 0 at the top.
constexpr std::uint8_t font5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5f, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7f, 0x14, 0x7f, 0x14}, {0x24, 0x2a, 0x7f, 0x2a, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1c, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1c, 0x00}, {0x14, 0x08, 0x3e, 0x08, 0x14}, {0x08, 0x08, 0x3e, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3e, 0x51, 0x49, 0x45, 0x3e}, {0x00, 0x42, 0x7f, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4b, 0x31}, {0x18, 0x14, 0x12, 0x7f, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3c, 0x4a, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1e}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3e},
    {0x7e, 0x11, 0x11, 0x11, 0x7e}, {0x7f, 0x49, 0x49, 0x49, 0x36}, {0x3e, 0x41, 0x41, 0x41, 0x22},
    {0x7f, 0x41, 0x41, 0x22, 0x1c}, {0x7f, 0x49, 0x49, 0x49, 0x41}, {0x7f, 0x09, 0x09, 0x09, 0x01},
    {0x3e, 0x41, 0x49, 0x49, 0x7a}, {0x7f, 0x08, 0x08, 0x08, 0x7f}, {0x00, 0x41, 0x7f, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3f, 0x01}, {0x7f, 0x08, 0x14, 0x22, 0x41}, {0x7f, 0x40, 0x40, 0x40, 0x40},
    {0x7f, 0x02, 0x0c, 0x02, 0x7f}, {0x7f, 0x04, 0x08, 0x10, 0x7f}, {0x3e, 0x41, 0x41, 0x41, 0x3e},
    {0x7f, 0x09, 0x09, 0x09, 0x06}, {0x3e, 0x41, 0x51, 0x21, 0x5e}, {0x7f, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7f, 0x01, 0x01}, {0x3f, 0x40, 0x40, 0x40, 0x3f},
    {0x1f, 0x20, 0x40, 0x20, 0x1f}, {0x3f, 0x40, 0x38, 0x40, 0x3f}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7f, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7f, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7f, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7f},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7e, 0x09, 0x01, 0x02}, {0x0c, 0x52, 0x52, 0x52, 0x3e},
    {0x7f, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7d, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3d, 0x00},
    {0x7f, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7f, 0x40, 0x00}, {0x7c, 0x04, 0x18, 0x04, 0x78},
    {0x7c, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7c, 0x14, 0x14, 0x14, 0x08},
    {0x08, 0x14, 0x14, 0x18, 0x7c}, {0x7c, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3f, 0x44, 0x40, 0x20}, {0x3c, 0x40, 0x40, 0x20, 0x7c}, {0x1c, 0x20, 0x40, 0x20, 0x1c},
    {0x3c, 0x40, 0x30, 0x40, 0x3c}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0c, 0x50, 0x50, 0x50, 0x3c},
    {0x44, 0x64, 0x54, 0x4c, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7f, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x10, 0x08, 0x08, 0x10, 0x08},
};

constexpr int w = static_cast<int>(display_width);
constexpr int h = static_cast<int>(display_height);

// View layout (pixels).
constexpr int grid_top = 11;
constexpr int grid_height = 44;
constexpr int label_width = 8;
constexpr int step_pitch = 7;
constexpr int mode_line_y = 56;

int row_pitch() {
    const int p = grid_height / static_cast<int>(outputs);
    return p > 9 ? 9 : p;
}

int step_x(unsigned step) {
    return label_width + static_cast<int>(step) * step_pitch + static_cast<int>(step / 4);
}

// Appends s to out (capacity cap including the NUL); returns the new length.
std::size_t append(char* out, std::size_t len, std::size_t cap, const char* s) {
    while (*s != '\0' && len + 1 < cap) {
        out[len++] = *s++;
    }
    out[len] = '\0';
    return len;
}

std::size_t append_uint(char* out, std::size_t len, std::size_t cap, std::uint32_t v,
                        unsigned digits) {
    char buf[12];
    format_uint(v, digits, buf);
    return append(out, len, cap, buf);
}

void draw_header(const Sequencer& seq, const UiState& ui, const Position& pos, Framebuffer& fb) {
    const Model& m = seq.model();
    char buf[16];
    std::size_t n = append(buf, 0, sizeof buf, "P");
    append_uint(buf, n, sizeof buf, ui.pattern + 1u, 2);
    fb.text(0, 0, buf);

    format_tempo(m.tempo_bpm100, buf);
    fb.text(24, 0, buf, ui.mode == UiMode::tempo && ui.field == TempoField::tempo);

    // Transport: a play triangle or a stop square.
    if (pos.playing) {
        for (int i = 0; i < 4; ++i) {
            fb.vline(64 + i, i, 7 - 2 * i);
        }
    } else {
        fb.fill_rect(64, 1, 5, 5);
    }

    if (m.song_mode) {
        n = append(buf, 0, sizeof buf, "S");
        append_uint(buf, n, sizeof buf, pos.slot + 1u, 2);
        fb.text(74, 0, buf);
    }
    fb.text(104, 0, pos.host ? "HOST" : "SOLO", pos.host);
    fb.hline(0, 9, w);
}

void draw_grid(const Sequencer& seq, const UiState& ui, const Position& pos, Framebuffer& fb) {
    const Model& m = seq.model();
    const Pattern& p = m.patterns[ui.pattern];
    const int pitch = row_pitch();
    for (unsigned t = 0; t < outputs; ++t) {
        const int y = grid_top + static_cast<int>(t) * pitch;
        const bool muted = ((m.mutes >> t) & 1u) != 0;
        if (pitch >= font_height) {
            const char label = static_cast<char>(t < 9 ? '1' + t : 'A' + (t - 9));
            fb.glyph(0, y, label, muted);
        } else if (muted) {
            fb.hline(0, y, 5);
        }
        for (unsigned s = 0; s < steps_per_pattern; ++s) {
            const int x = step_x(s);
            const bool on = ((p.on[t] >> s) & 1u) != 0;
            const bool accent = ((p.accent[t] >> s) & 1u) != 0;
            if (pitch >= 5) {
                if (on && accent) {
                    fb.fill_rect(x + 1, y + 2, 5, pitch - 3);
                } else if (on) {
                    fb.fill_rect(x + 1, y + pitch - 5, 5, 4);
                } else {
                    fb.set(x + 3, y + pitch - 2);
                }
            } else if (on) {
                fb.hline(x + 1, y, accent ? 5 : 3);
            }
            if (ui.mode == UiMode::pattern && t == ui.track && s == ui.step) {
                fb.invert_rect(x, y, step_pitch, pitch);
            }
        }
    }
    // Playhead: a bar under the step that played last.
    if (pos.playing) {
        const int y = grid_top + static_cast<int>(outputs) * pitch + 1;
        fb.fill_rect(step_x(pos.step) + 1, y, 5, 2);
    }
}

void draw_chain(const Sequencer& seq, const UiState& ui, const Position& pos, Framebuffer& fb) {
    const Model& m = seq.model();
    constexpr unsigned columns = 4;
    constexpr unsigned rows = 5;
    const unsigned cursor_row = ui.slot / columns;
    const unsigned top = cursor_row >= rows ? cursor_row - (rows - 1) : 0;
    for (unsigned r = 0; r < rows; ++r) {
        for (unsigned c = 0; c < columns; ++c) {
            const unsigned slot = (top + r) * columns + c;
            if (slot > m.chain_length || slot >= chain_capacity) {
                continue;
            }
            const int x = static_cast<int>(c) * 32 + 1;
            const int y = grid_top + static_cast<int>(r) * font_height;
            char buf[8];
            if (slot == m.chain_length) {
                append(buf, 0, sizeof buf, "--");
            } else {
                std::size_t n = append_uint(buf, 0, sizeof buf, m.chain[slot].pattern + 1u, 2);
                n = append(buf, n, sizeof buf, "x");
                append_uint(buf, n, sizeof buf, m.chain[slot].repeats, 1);
            }
            const int end = fb.text(x, y, buf, slot == ui.slot);
            if (m.song_mode && pos.playing && slot == pos.slot && slot < m.chain_length) {
                fb.hline(x, y + 8, end - x - 1);
            }
        }
    }
}

void draw_mode_line(const Sequencer& seq, const UiState& ui, Framebuffer& fb) {
    const Model& m = seq.model();
    static constexpr const char* names[] = {"EDIT", "SONG", "TEMPO", "EDIT"};
    const UiMode shown = ui.mode == UiMode::confirm ? ui.back : ui.mode;
    int x = fb.text(1, mode_line_y, names[static_cast<unsigned>(shown)], true) + 3;
    char buf[24];
    std::size_t n = 0;
    if (ui.message[0] != '\0') {
        fb.text(x, mode_line_y, ui.message);
        return;
    }
    if (ui.entry_len > 0) {
        n = append(buf, 0, sizeof buf, shown == UiMode::pattern ? "P" : ">");
        n = append(buf, n, sizeof buf, ui.entry);
        append(buf, n, sizeof buf, "_");
        fb.text(x, mode_line_y, buf);
        return;
    }
    switch (shown) {
    case UiMode::pattern:
    case UiMode::confirm:
        n = append(buf, 0, sizeof buf, "T");
        n = append_uint(buf, n, sizeof buf, ui.track + 1u, 1);
        n = append(buf, n, sizeof buf, " S");
        append_uint(buf, n, sizeof buf, ui.step + 1u, 2);
        fb.text(x, mode_line_y, buf);
        if (ui.clipboard >= 0) {
            n = append(buf, 0, sizeof buf, "C");
            append_uint(buf, n, sizeof buf, static_cast<std::uint32_t>(ui.clipboard) + 1u, 2);
            fb.text(w - 3 * font_width, mode_line_y, buf);
        }
        break;
    case UiMode::song:
        n = append_uint(buf, 0, sizeof buf, ui.slot + 1u, 2);
        n = append(buf, n, sizeof buf, "/");
        n = append_uint(buf, n, sizeof buf, m.chain_length, 2);
        n = append(buf, n, sizeof buf, m.song_mode ? " ON" : " OFF");
        append(buf, n, sizeof buf, m.song_loop ? " LOOP" : "");
        fb.text(x, mode_line_y, buf);
        break;
    case UiMode::tempo:
        x = fb.text(x, mode_line_y, "SW") + 2;
        n = append_uint(buf, 0, sizeof buf, m.swing / 10u, 1);
        n = append(buf, n, sizeof buf, ".");
        n = append_uint(buf, n, sizeof buf, m.swing % 10u, 1);
        append(buf, n, sizeof buf, "%");
        fb.text(x, mode_line_y, buf, ui.field == TempoField::swing);
        break;
    }
}

void draw_confirm(const UiState& ui, Framebuffer& fb) {
    fb.fill_rect(10, 16, 108, 30, false);
    fb.rect(10, 16, 108, 30);
    char buf[24];
    if (ui.confirm == ConfirmAction::clear_pattern) {
        std::size_t n = append(buf, 0, sizeof buf, "CLEAR P");
        n = append_uint(buf, n, sizeof buf, ui.pattern + 1u, 2);
        append(buf, n, sizeof buf, "?");
    } else {
        append(buf, 0, sizeof buf, "LOAD PROJECT?");
    }
    fb.text(16, 21, buf);
    fb.text(16, 33, "Y:YES  N:NO");
}

void draw_help(Framebuffer& fb) {
    static constexpr const char* lines[] = {
        "SPC step  A accent", "M mute  C/V copy/pst", "[ ] 01-64 pattern", "X clear  ENT play",
        "TAB/F2-4 mode",      "^Z undo  ^Y redo",     "^S save  ^O load",  "any key: close",
    };
    fb.clear();
    int y = 0;
    for (const char* l : lines) {
        fb.text(0, y, l);
        y += font_height;
    }
}

} // namespace

void Framebuffer::fill(bool on) {
    std::memset(bytes, on ? 0xff : 0x00, sizeof bytes);
}

void Framebuffer::set(int x, int y, bool on) {
    if (x < 0 || y < 0 || x >= w || y >= h) {
        return;
    }
    std::uint8_t& b = bytes[(y / 8) * w + x];
    const auto bit = static_cast<std::uint8_t>(1u << (y % 8));
    b = static_cast<std::uint8_t>(on ? (b | bit) : (b & ~bit));
}

bool Framebuffer::get(int x, int y) const {
    if (x < 0 || y < 0 || x >= w || y >= h) {
        return false;
    }
    return ((bytes[(y / 8) * w + x] >> (y % 8)) & 1u) != 0;
}

void Framebuffer::hline(int x, int y, int len, bool on) {
    for (int i = 0; i < len; ++i) {
        set(x + i, y, on);
    }
}

void Framebuffer::vline(int x, int y, int len, bool on) {
    for (int i = 0; i < len; ++i) {
        set(x, y + i, on);
    }
}

void Framebuffer::line(int x0, int y0, int x1, int y1, bool on) {
    const int dx = x1 > x0 ? x1 - x0 : x0 - x1;
    const int dy = -(y1 > y0 ? y1 - y0 : y0 - y1);
    const int sx = x0 < x1 ? 1 : -1;
    const int sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        set(x0, y0, on);
        if (x0 == x1 && y0 == y1) {
            return;
        }
        const int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void Framebuffer::rect(int x, int y, int rw, int rh, bool on) {
    if (rw <= 0 || rh <= 0) {
        return;
    }
    hline(x, y, rw, on);
    hline(x, y + rh - 1, rw, on);
    vline(x, y, rh, on);
    vline(x + rw - 1, y, rh, on);
}

void Framebuffer::fill_rect(int x, int y, int rw, int rh, bool on) {
    for (int j = 0; j < rh; ++j) {
        hline(x, y + j, rw, on);
    }
}

void Framebuffer::invert_rect(int x, int y, int rw, int rh) {
    for (int j = 0; j < rh; ++j) {
        for (int i = 0; i < rw; ++i) {
            set(x + i, y + j, !get(x + i, y + j));
        }
    }
}

int Framebuffer::glyph(int x, int y, char c, bool invert) {
    const auto code = static_cast<unsigned char>(c);
    const std::uint8_t* g = font5x7[(code >= 32 && code <= 126 ? code : '?') - 32];
    for (int i = 0; i < font_width; ++i) {
        const unsigned col = i < 5 ? g[i] : 0u;
        for (int r = 0; r < font_height; ++r) {
            set(x + i, y + r, (((col >> r) & 1u) != 0) != invert);
        }
    }
    return x + font_width;
}

int Framebuffer::text(int x, int y, const char* s, bool invert) {
    if (invert) {
        vline(x - 1, y, font_height); // a lit margin, or a glyph's left column would vanish
    }
    for (; *s != '\0'; ++s) {
        x = glyph(x, y, *s, invert);
    }
    return x;
}

bool operator==(const Framebuffer& a, const Framebuffer& b) {
    return std::memcmp(a.bytes, b.bytes, sizeof a.bytes) == 0;
}

std::size_t format_uint(std::uint32_t v, unsigned min_digits, char* out) {
    char rev[10];
    unsigned n = 0;
    do {
        rev[n++] = static_cast<char>('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && n < sizeof rev);
    while (n < min_digits && n < sizeof rev) {
        rev[n++] = '0';
    }
    for (unsigned i = 0; i < n; ++i) {
        out[i] = rev[n - 1 - i];
    }
    out[n] = '\0';
    return n;
}

std::size_t format_tempo(std::uint32_t bpm100, char* out) {
    std::size_t n = format_uint(bpm100 / 100u, 1, out);
    out[n++] = '.';
    n += format_uint(bpm100 % 100u, 2, out + n);
    return n;
}

void render(const Sequencer& seq, const UiState& ui, Framebuffer& fb) {
    fb.clear();
    if (ui.help) {
        draw_help(fb);
        return;
    }
    const Position pos = seq.position();
    draw_header(seq, ui, pos, fb);
    if (ui.mode == UiMode::song) {
        draw_chain(seq, ui, pos, fb);
    } else {
        draw_grid(seq, ui, pos, fb);
    }
    draw_mode_line(seq, ui, fb);
    if (ui.mode == UiMode::confirm) {
        draw_confirm(ui, fb);
    }
}

std::size_t sh1106_page(const Framebuffer& fb, unsigned p, std::uint8_t* out, std::size_t cap) {
    if (p >= display_pages || cap < sh1106_page_bytes) {
        return 0;
    }
    out[0] = static_cast<std::uint8_t>(0xB0 + p);                    // page address
    out[1] = static_cast<std::uint8_t>(sh1106_column_offset & 0x0F); // lower column nibble
    out[2] = static_cast<std::uint8_t>(0x10 | (sh1106_column_offset >> 4));
    std::memcpy(out + sh1106_page_commands, fb.page(p), display_width);
    return sh1106_page_bytes;
}

} // namespace lockstep::fw
