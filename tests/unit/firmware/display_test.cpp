// The display framebuffer, font, view renderer and SH1106 page writes, checked against
// expected images in tests/data/firmware/ (see pbm.hpp).
#include "core/display.hpp"
#include "core/sequencer.hpp"
#include "core/ui.hpp"
#include "pbm.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace lockstep::fw {
namespace {

using test::matches_image;

TEST(Framebuffer, PageLayoutBitZeroIsTheTopRow) {
    Framebuffer fb;
    fb.set(0, 0);
    fb.set(3, 9);
    fb.set(127, 63);
    EXPECT_EQ(fb.bytes[0], 0x01);
    EXPECT_EQ(fb.bytes[128 + 3], 0x02);
    EXPECT_EQ(fb.bytes[7 * 128 + 127], 0x80);
    EXPECT_TRUE(fb.get(3, 9));
    EXPECT_FALSE(fb.get(3, 8));
    fb.set(3, 9, false);
    EXPECT_EQ(fb.bytes[128 + 3], 0x00);
}

TEST(Framebuffer, DrawingClipsAtTheEdges) {
    Framebuffer fb;
    fb.fill_rect(-10, -10, 300, 300);
    for (std::uint8_t b : fb.bytes) {
        ASSERT_EQ(b, 0xff);
    }
    fb.line(-50, 200, 500, -7, false); // must not write outside
    EXPECT_FALSE(fb.get(-1, 0));
    EXPECT_FALSE(fb.get(128, 0));
    EXPECT_FALSE(fb.get(0, 64));
}

TEST(Framebuffer, Primitives) {
    Framebuffer fb;
    fb.rect(0, 0, 128, 64);
    fb.line(2, 2, 40, 30);
    fb.line(40, 2, 2, 30);
    fb.fill_rect(50, 4, 10, 6);
    fb.invert_rect(55, 2, 10, 10);
    fb.hline(70, 5, 20);
    fb.vline(95, 2, 20);
    const int end = fb.text(2, 34, "Hello, 0123 ~!");
    EXPECT_EQ(end, 2 + 14 * font_width);
    fb.text(2, 44, "INVERTED", true);
    fb.text(2, 54, "\x7f\x01?"); // non-ASCII draws '?'
    EXPECT_TRUE(matches_image(fb, "primitives"));
}

TEST(Framebuffer, EveryPrintableGlyphIsDistinct) {
    for (char a = 32; a < 126; ++a) {
        Framebuffer fa;
        fa.glyph(0, 0, a);
        for (char b = static_cast<char>(a + 1); b <= 126; ++b) {
            Framebuffer fb;
            fb.glyph(0, 0, b);
            EXPECT_NE(fa, fb) << a << " vs " << b;
        }
    }
}

TEST(Format, TempoAndNumbers) {
    char buf[12];
    EXPECT_EQ(format_tempo(13730, buf), 6u);
    EXPECT_STREQ(buf, "137.30");
    format_tempo(1000, buf);
    EXPECT_STREQ(buf, "10.00");
    format_tempo(100000, buf);
    EXPECT_STREQ(buf, "1000.00");
    format_tempo(12005, buf);
    EXPECT_STREQ(buf, "120.05");
    format_uint(7, 2, buf);
    EXPECT_STREQ(buf, "07");
    format_uint(4294967295u, 1, buf);
    EXPECT_STREQ(buf, "4294967295");
}

TEST(Sh1106, PageWriteIsCommandsThenTheColumns) {
    Framebuffer fb;
    for (int x = 0; x < 128; ++x) {
        fb.set(x, 8 * 5 + (x % 8)); // page 5: a diagonal pattern
    }
    std::uint8_t out[sh1106_page_bytes + 4];
    std::memset(out, 0xAA, sizeof out);
    ASSERT_EQ(sh1106_page(fb, 5, out, sizeof out), 131u);
    EXPECT_EQ(out[0], 0xB5); // page 5
    EXPECT_EQ(out[1], 0x02); // lower column nibble: the 2-column offset of the 132-column RAM
    EXPECT_EQ(out[2], 0x10); // upper column nibble 0
    for (int x = 0; x < 128; ++x) {
        ASSERT_EQ(out[3 + x], 1u << (x % 8)) << x;
    }
    EXPECT_EQ(out[131], 0xAA); // nothing beyond
    ASSERT_EQ(sh1106_page(fb, 0, out, sizeof out), 131u);
    EXPECT_EQ(out[0], 0xB0);
    EXPECT_EQ(out[3], 0x00);
    EXPECT_EQ(sh1106_page(fb, 8, out, sizeof out), 0u);
    EXPECT_EQ(sh1106_page(fb, 0, out, 130), 0u);
}

#if LOCKSTEP_FW_OUTPUTS == 4
// The view images are for the box's 4 outputs.

TEST(View, EmptyPattern) {
    Sequencer seq;
    UiState ui;
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_empty"));
}

// Pattern 3: a kick on the beats (accented on 1), a snare on 5 and 13, hats on every odd
// step, a muted track 4; cursor on track 2 step 6; playing, the playhead on step 4.
Sequencer busy() {
    Sequencer seq;
    for (unsigned s = 0; s < 16; s += 4) {
        seq.set_step(2, 0, s, true);
    }
    seq.set_accent(2, 0, 0, true);
    seq.set_step(2, 1, 4, true);
    seq.set_step(2, 1, 12, true);
    seq.set_accent(2, 1, 12, true);
    for (unsigned s = 0; s < 16; s += 2) {
        seq.set_step(2, 2, s + 1, true);
    }
    seq.set_step(2, 3, 15, true);
    seq.set_mute(3, true);
    seq.select_pattern(2);
    seq.set_tempo(13730);
    seq.play(0);
    // 137.3 BPM: a step is ~109.24 ms; up to 450 ms (+5 ms lookahead) emits steps 0..4.
    seq.tick(450'000'000, [](const StepEvent&) {});
    return seq;
}

TEST(View, BusyPatternWithCursorAndPlayhead) {
    const Sequencer seq = busy();
    ASSERT_EQ(seq.position().step, 4);
    UiState ui;
    ui.pattern = 2;
    ui.track = 1;
    ui.step = 5;
    ui.clipboard = 0;
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_busy"));
}

TEST(View, SongModeWithHost) {
    Sequencer seq;
    const unsigned chain[][2] = {{0, 1}, {1, 2}, {2, 1}, {0, 4}, {5, 1}, {63, 64}};
    unsigned i = 0;
    for (const auto& c : chain) {
        seq.insert_chain_slot(i++, c[0], c[1]);
    }
    seq.set_song_mode(true);
    seq.set_song_loop(true);
    seq.host_connected();
    UiState ui;
    ui.mode = UiMode::song;
    ui.slot = 2;
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_song"));
}

TEST(View, SongPlaying) {
    Sequencer seq;
    seq.insert_chain_slot(0, 0, 1);
    seq.insert_chain_slot(1, 1, 2);
    seq.insert_chain_slot(2, 2, 1);
    seq.set_step(1, 0, 0, true);
    seq.set_song_mode(true);
    ASSERT_TRUE(seq.play(0));
    // 120 BPM: 16 steps = 2 s; at 2.3 s the chain is in slot 1 (pattern 2), step 2.
    seq.tick(2'300'000'000, [](const StepEvent&) {});
    ASSERT_EQ(seq.position().slot, 1);
    UiState ui;
    ui.mode = UiMode::song;
    ui.slot = 2;
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_song_playing"));
}

TEST(View, TempoEditWithTypedEntry) {
    Sequencer seq;
    seq.set_tempo(13730);
    seq.set_swing(560);
    UiState ui;
    ui.mode = UiMode::tempo;
    std::strcpy(ui.entry, "98.5");
    ui.entry_len = 4;
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_tempo"));
    // The swing field selected: the swing value is highlighted instead of the tempo.
    ui.field = TempoField::swing;
    ui.entry_len = 0;
    ui.entry[0] = '\0';
    Framebuffer swing;
    render(seq, ui, swing);
    EXPECT_NE(swing, fb);
    EXPECT_TRUE(matches_image(swing, "view_swing"));
}

TEST(View, MessageLine) {
    const Sequencer seq = busy();
    UiState ui;
    ui.pattern = 2;
    std::strcpy(ui.message, "SAVED");
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_message"));
}

TEST(View, ConfirmDialogAndHelp) {
    const Sequencer seq = busy();
    UiState ui;
    ui.pattern = 2;
    ui.mode = UiMode::confirm;
    ui.confirm = ConfirmAction::clear_pattern;
    Framebuffer fb;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_confirm"));
    ui.help = true;
    render(seq, ui, fb);
    EXPECT_TRUE(matches_image(fb, "view_help"));
}
#endif

} // namespace
} // namespace lockstep::fw
