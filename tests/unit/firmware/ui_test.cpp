// The keyboard UI state machine: key sequences -> sequencer state, requests and UiState, in
// every mode; a rendered key sequence against an expected image; 10,000 random keys.
#include "core/display.hpp"
#include "core/sequencer.hpp"
#include "core/ui.hpp"
#include "pbm.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <random>
#include <string>

namespace lockstep::fw {
namespace {

constexpr DeviceTime ms = 1'000'000;

struct Box {
    Sequencer seq;
    Ui ui{seq};
    DeviceTime now = 0;

    bool key(const KeyEvent& k) {
        now += 10 * ms;
        return ui.handle(k, now);
    }
    void keys(std::initializer_list<KeyEvent> ks) {
        for (const KeyEvent& k : ks) {
            key(k);
        }
    }
    void type(const char* s) {
        for (; *s != '\0'; ++s) {
            key(KeyEvent::chr(*s));
        }
    }
    const UiState& st() const { return ui.state(); }
    const Pattern& pat(unsigned p) const { return seq.model().patterns[p]; }
    std::string message() const { return st().message; }
};

KeyEvent k(Key key, std::uint8_t mods = 0) {
    return KeyEvent::of(key, mods);
}
KeyEvent c(char ch, std::uint8_t mods = 0) {
    return KeyEvent::chr(ch, mods);
}

TEST(UiPattern, CursorMovesAndWraps) {
    Box b;
    EXPECT_EQ(b.st().mode, UiMode::pattern);
    b.keys({k(Key::right), k(Key::right), k(Key::down)});
    EXPECT_EQ(b.st().step, 2);
    EXPECT_EQ(b.st().track, 1);
    b.keys({k(Key::right, mod_shift)}); // by a beat
    EXPECT_EQ(b.st().step, 6);
    b.keys({k(Key::left, mod_shift), k(Key::left, mod_shift)});
    EXPECT_EQ(b.st().step, 14); // wrapped
    b.keys({k(Key::up), k(Key::up)});
    EXPECT_EQ(b.st().track, outputs - 1);
}

TEST(UiPattern, SpaceTogglesAccentAndMute) {
    Box b;
    b.keys({k(Key::right), k(Key::down), k(Key::space)});
    EXPECT_EQ(b.pat(0).on[1], 1u << 1);
    b.key(c('a'));
    EXPECT_EQ(b.pat(0).accent[1], 1u << 1);
    b.key(c('a'));
    EXPECT_EQ(b.pat(0).accent[1], 0u);
    b.key(k(Key::space));
    EXPECT_EQ(b.pat(0).on[1], 0u);
    b.key(c('m'));
    EXPECT_EQ(b.seq.model().mutes, 1u << 1);
    b.key(c('m'));
    EXPECT_EQ(b.seq.model().mutes, 0u);
}

TEST(UiPattern, UndoAndRedoThroughKeys) {
    Box b;
    b.keys({k(Key::space), k(Key::right), k(Key::space), k(Key::right), k(Key::space)});
    EXPECT_EQ(b.pat(0).on[0], 0b111u);
    b.key(c('z', mod_ctrl));
    EXPECT_EQ(b.pat(0).on[0], 0b011u);
    EXPECT_EQ(b.message(), "UNDO");
    b.key(c('z', mod_ctrl));
    EXPECT_EQ(b.pat(0).on[0], 0b001u);
    b.key(c('y', mod_ctrl));
    EXPECT_EQ(b.pat(0).on[0], 0b011u);
    EXPECT_EQ(b.message(), "REDO");
    b.key(c('z', mod_ctrl | mod_shift));
    EXPECT_EQ(b.pat(0).on[0], 0b111u);
    b.key(c('y', mod_ctrl));
    EXPECT_EQ(b.message(), "NOTHING TO REDO");
    for (int i = 0; i < 3; ++i) {
        b.key(c('z', mod_ctrl));
    }
    EXPECT_EQ(b.pat(0).on[0], 0u);
    b.key(c('z', mod_ctrl));
    EXPECT_EQ(b.message(), "NOTHING TO UNDO");
}

TEST(UiPattern, DigitsAndBracketsSelectPatterns) {
    Box b;
    b.type("0");
    EXPECT_EQ(b.st().entry_len, 1);
    EXPECT_EQ(b.st().pattern, 0);
    b.type("5");
    EXPECT_EQ(b.st().pattern, 4);
    EXPECT_EQ(b.seq.model().selected, 4);
    EXPECT_EQ(b.st().entry_len, 0);
    b.type("64");
    EXPECT_EQ(b.st().pattern, 63);
    b.key(c(']'));
    EXPECT_EQ(b.st().pattern, 0); // wraps
    b.key(c('['));
    EXPECT_EQ(b.st().pattern, 63);
    // Invalid numbers change nothing.
    b.type("65");
    EXPECT_EQ(b.st().pattern, 63);
    EXPECT_EQ(b.message(), "NO SUCH PATTERN");
    b.type("00");
    EXPECT_EQ(b.st().pattern, 63);
    // Escape and backspace drop a half-typed number.
    b.type("1");
    b.key(k(Key::escape));
    EXPECT_EQ(b.st().entry_len, 0);
    EXPECT_EQ(b.st().mode, UiMode::pattern);
    b.type("1");
    b.key(k(Key::backspace));
    b.type("12");
    EXPECT_EQ(b.st().pattern, 11);
}

TEST(UiPattern, CopyAndPaste) {
    Box b;
    b.keys({k(Key::space), k(Key::down), k(Key::right), k(Key::space), c('a')});
    const Pattern p1 = b.pat(0);
    b.key(c('v'));
    EXPECT_EQ(b.message(), "CLIPBOARD EMPTY");
    b.key(c('c'));
    EXPECT_EQ(b.st().clipboard, 0);
    EXPECT_EQ(b.message(), "COPIED");
    b.type("07");
    b.key(c('v'));
    EXPECT_EQ(b.message(), "PASTED");
    EXPECT_EQ(std::memcmp(&b.pat(6), &p1, sizeof p1), 0);
    b.key(c('z', mod_ctrl)); // the paste is one undo step
    EXPECT_EQ(b.pat(6).on[0], 0u);
    EXPECT_EQ(b.pat(6).on[1], 0u);
    EXPECT_EQ(std::memcmp(&b.pat(0), &p1, sizeof p1), 0);
}

TEST(UiPattern, ClearPatternAsksFirst) {
    Box b;
    b.keys({k(Key::space), k(Key::right), k(Key::space)});
    b.key(c('x'));
    EXPECT_EQ(b.st().mode, UiMode::confirm);
    EXPECT_EQ(b.st().confirm, ConfirmAction::clear_pattern);
    // Other keys do nothing while the dialog is up.
    EXPECT_FALSE(b.key(k(Key::space)));
    EXPECT_FALSE(b.key(c('z', mod_ctrl)));
    EXPECT_EQ(b.st().mode, UiMode::confirm);
    EXPECT_EQ(b.pat(0).on[0], 0b11u);
    b.key(c('n'));
    EXPECT_EQ(b.st().mode, UiMode::pattern);
    EXPECT_EQ(b.message(), "CANCELLED");
    EXPECT_EQ(b.pat(0).on[0], 0b11u);
    b.key(k(Key::del));
    b.key(k(Key::escape));
    EXPECT_EQ(b.pat(0).on[0], 0b11u);
    b.key(c('x'));
    b.key(c('y'));
    EXPECT_EQ(b.st().mode, UiMode::pattern);
    EXPECT_EQ(b.pat(0).on[0], 0u);
    EXPECT_EQ(b.message(), "CLEARED");
    b.key(c('z', mod_ctrl));
    EXPECT_EQ(b.pat(0).on[0], 0b11u);
    b.key(c('x'));
    b.key(k(Key::enter)); // enter accepts too
    EXPECT_EQ(b.pat(0).on[0], 0u);
    EXPECT_EQ(b.ui.take_requests(), 0u); // and does not start the transport
}

TEST(UiTransport, EnterPlaysAndStops) {
    Box b;
    b.key(k(Key::enter));
    EXPECT_EQ(b.ui.take_requests(), request_play);
    EXPECT_EQ(b.ui.take_requests(), 0u);
    ASSERT_TRUE(b.seq.play(0));
    b.key(k(Key::enter));
    EXPECT_EQ(b.ui.take_requests(), request_stop);
}

TEST(UiProject, SaveAndLoadRequests) {
    Box b;
    b.key(c('s', mod_ctrl));
    EXPECT_EQ(b.ui.take_requests(), request_save);
    EXPECT_EQ(b.message(), "SAVING");
    b.ui.show_message("SAVED", b.now);
    EXPECT_EQ(b.message(), "SAVED");
    b.key(k(Key::f3)); // from song mode
    b.key(c('o', mod_ctrl));
    EXPECT_EQ(b.st().mode, UiMode::confirm);
    EXPECT_EQ(b.st().confirm, ConfirmAction::load_project);
    b.key(k(Key::escape));
    EXPECT_EQ(b.ui.take_requests(), 0u);
    EXPECT_EQ(b.st().mode, UiMode::song);
    b.key(c('o', mod_ctrl));
    b.key(c('y'));
    EXPECT_EQ(b.ui.take_requests(), request_load);
    EXPECT_EQ(b.st().mode, UiMode::song);
}

TEST(UiMessage, ExpiresAfterItsDuration) {
    Box b;
    b.key(c('c'));
    const DeviceTime shown = b.now;
    EXPECT_FALSE(b.ui.tick(shown + message_duration_ns - 1));
    EXPECT_EQ(b.message(), "COPIED");
    EXPECT_TRUE(b.ui.tick(shown + message_duration_ns));
    EXPECT_EQ(b.message(), "");
    EXPECT_FALSE(b.ui.tick(shown + 2 * message_duration_ns));
}

TEST(UiModes, TabCyclesAndEscapeReturns) {
    Box b;
    b.key(k(Key::tab));
    EXPECT_EQ(b.st().mode, UiMode::song);
    b.key(k(Key::tab));
    EXPECT_EQ(b.st().mode, UiMode::tempo);
    b.key(k(Key::tab));
    EXPECT_EQ(b.st().mode, UiMode::pattern);
    b.key(k(Key::f4));
    EXPECT_EQ(b.st().mode, UiMode::tempo);
    b.key(k(Key::escape));
    EXPECT_EQ(b.st().mode, UiMode::pattern);
    b.key(k(Key::f1));
    EXPECT_TRUE(b.st().help);
    b.key(k(Key::space)); // closes the help, toggles nothing
    EXPECT_FALSE(b.st().help);
    EXPECT_EQ(b.pat(0).on[0], 0u);
}

TEST(UiSong, BuildsAndEditsTheChain) {
    Box b;
    b.type("03"); // edited pattern 3
    b.key(k(Key::f3));
    EXPECT_EQ(b.st().slot, 0);
    b.key(k(Key::up)); // on the end marker: appends the edited pattern
    ASSERT_EQ(b.seq.model().chain_length, 1);
    EXPECT_EQ(b.seq.model().chain[0].pattern, 2);
    b.key(k(Key::up)); // now the slot's pattern + 1
    EXPECT_EQ(b.seq.model().chain[0].pattern, 3);
    b.key(k(Key::down, mod_shift));
    EXPECT_EQ(b.seq.model().chain[0].pattern, 59);
    b.type("12");
    EXPECT_EQ(b.seq.model().chain[0].pattern, 11);
    b.keys({c('+'), c('+'), c('+'), c('-')});
    EXPECT_EQ(b.seq.model().chain[0].repeats, 3);
    b.key(k(Key::right));
    EXPECT_EQ(b.st().slot, 1);
    b.key(k(Key::right)); // not past the end marker
    EXPECT_EQ(b.st().slot, 1);
    b.type("07"); // on the end marker: appends
    ASSERT_EQ(b.seq.model().chain_length, 2);
    EXPECT_EQ(b.seq.model().chain[1].pattern, 6);
    EXPECT_EQ(b.seq.model().chain[1].repeats, 1);
    EXPECT_EQ(b.st().slot, 1); // the cursor stays on the slot just set
    b.key(c('i'));             // insert before slot 1: the edited pattern
    ASSERT_EQ(b.seq.model().chain_length, 3);
    EXPECT_EQ(b.seq.model().chain[1].pattern, 2);
    EXPECT_EQ(b.seq.model().chain[2].pattern, 6);
    b.key(c('x')); // remove slot 1 again
    ASSERT_EQ(b.seq.model().chain_length, 2);
    EXPECT_EQ(b.seq.model().chain[1].pattern, 6);
    b.key(c('z', mod_ctrl)); // undo the removal
    EXPECT_EQ(b.seq.model().chain_length, 3);
    b.key(k(Key::right));
    b.key(k(Key::right));
    EXPECT_EQ(b.st().slot, 3);
    b.key(k(Key::backspace)); // removes the slot before the cursor
    EXPECT_EQ(b.seq.model().chain_length, 2);
    EXPECT_EQ(b.st().slot, 2);
    b.key(k(Key::del)); // on the end marker: nothing to remove
    EXPECT_EQ(b.seq.model().chain_length, 2);
    EXPECT_FALSE(b.key(c('+'))); // no repeats on the end marker
    b.type("99");
    EXPECT_EQ(b.message(), "NO SUCH PATTERN");
    EXPECT_EQ(b.seq.model().chain_length, 2);
    EXPECT_FALSE(b.seq.model().song_mode);
    b.key(c('s'));
    EXPECT_TRUE(b.seq.model().song_mode);
    EXPECT_EQ(b.message(), "SONG MODE ON");
    const bool loop = b.seq.model().song_loop;
    b.key(c('l'));
    EXPECT_NE(b.seq.model().song_loop, loop);
    for (int i = 0; i < 5; ++i) {
        b.key(k(Key::left));
    }
    EXPECT_EQ(b.st().slot, 0);
}

TEST(UiSong, RepeatsStayInRange) {
    Box b;
    b.key(k(Key::f3));
    b.key(k(Key::up));
    for (int i = 0; i < 100; ++i) {
        b.key(c('+'));
    }
    EXPECT_EQ(b.seq.model().chain[0].repeats, max_repeats);
    for (int i = 0; i < 100; ++i) {
        b.key(c('-'));
    }
    EXPECT_EQ(b.seq.model().chain[0].repeats, 1);
}

TEST(UiTempo, StepsAndTypedValues) {
    Box b;
    b.key(k(Key::f4));
    EXPECT_EQ(b.st().field, TempoField::tempo);
    b.key(c('+'));
    EXPECT_EQ(b.seq.model().tempo_bpm100, 12100u);
    b.key(c('+', mod_shift));
    EXPECT_EQ(b.seq.model().tempo_bpm100, 13100u);
    b.key(c('-'));
    EXPECT_EQ(b.seq.model().tempo_bpm100, 13000u);
    b.type("137.3");
    EXPECT_STREQ(b.st().entry, "137.3");
    EXPECT_EQ(b.seq.model().tempo_bpm100, 13000u); // not before enter
    b.key(k(Key::enter));
    EXPECT_EQ(b.seq.model().tempo_bpm100, 13730u);
    EXPECT_EQ(b.ui.take_requests(), 0u); // enter committed the entry, no transport
    b.type("98.25");
    b.key(k(Key::enter));
    EXPECT_EQ(b.seq.model().tempo_bpm100, 9825u);
    b.key(c('z', mod_ctrl)); // tempo edits are undoable
    EXPECT_EQ(b.seq.model().tempo_bpm100, 13730u);
    // Invalid entries change nothing.
    for (const char* bad : {"5", "1001", "1.2.3", "120.123", "."}) {
        b.type(bad);
        b.key(k(Key::enter));
        EXPECT_EQ(b.seq.model().tempo_bpm100, 13730u) << bad;
        EXPECT_EQ(b.message(), "TEMPO 10-1000") << bad;
        EXPECT_EQ(b.st().entry_len, 0) << bad;
    }
    b.type("1200");
    b.key(k(Key::backspace));
    b.key(k(Key::enter));
    EXPECT_EQ(b.seq.model().tempo_bpm100, 12000u);
    // Clamped at the range's ends.
    for (int i = 0; i < 200; ++i) {
        b.key(c('+', mod_shift));
    }
    EXPECT_EQ(b.seq.model().tempo_bpm100, max_tempo_bpm100);
    for (int i = 0; i < 200; ++i) {
        b.key(c('-', mod_shift));
    }
    EXPECT_EQ(b.seq.model().tempo_bpm100, min_tempo_bpm100);
    // Swing: percent with one decimal.
    b.key(k(Key::down));
    EXPECT_EQ(b.st().field, TempoField::swing);
    b.type("50");
    b.key(k(Key::enter));
    EXPECT_EQ(b.seq.model().swing, 500u);
    b.key(c('+'));
    EXPECT_EQ(b.seq.model().swing, 510u);
    b.key(c('-', mod_shift));
    EXPECT_EQ(b.seq.model().swing, 410u);
    b.type("12.5");
    b.key(k(Key::enter));
    EXPECT_EQ(b.seq.model().swing, 125u);
    b.type("100.1");
    b.key(k(Key::enter));
    EXPECT_EQ(b.seq.model().swing, 125u);
    EXPECT_EQ(b.message(), "SWING 0-100");
    // A bare enter is play/stop again.
    b.key(k(Key::enter));
    EXPECT_EQ(b.ui.take_requests(), request_play);
}

TEST(UiKeys, UnknownKeysAreIgnored) {
    for (UiMode mode : {UiMode::pattern, UiMode::song, UiMode::tempo}) {
        Box b;
        b.key(k(mode == UiMode::pattern ? Key::f2 : mode == UiMode::song ? Key::f3 : Key::f4));
        b.key(c('c')); // leaves a message
        const Model before = b.seq.model();
        UiState st = b.st();
        for (const KeyEvent& e :
             {k(Key::none), k(Key::f12), k(Key::f7), c('q'), c('!'), c('~'), c('#'), c('k'), c('z'),
              c('q', mod_ctrl), c('1', mod_ctrl), c('a', mod_alt)}) {
            EXPECT_FALSE(b.key(e)) << static_cast<int>(e.key) << " " << e.ch;
        }
        EXPECT_EQ(b.seq.model(), before);
        EXPECT_EQ(std::memcmp(&b.st(), &st, sizeof st), 0);
        EXPECT_EQ(b.ui.take_requests(), 0u);
    }
}

#if LOCKSTEP_FW_OUTPUTS == 4
TEST(UiView, KeySequenceRendersAsExpected) {
    Box b;
    // A four-on-the-floor with an accented first beat, on pattern 2, cursor on step 9.
    b.type("02");
    for (int i = 0; i < 4; ++i) {
        b.keys({k(Key::space), k(Key::right, mod_shift)});
    }
    b.key(c('a'));
    b.keys({k(Key::down), k(Key::right, mod_shift), k(Key::right, mod_shift), k(Key::right)});
    b.key(k(Key::space));
    b.key(c('c'));
    Framebuffer fb;
    render(b.seq, b.st(), fb);
    EXPECT_TRUE(test::matches_image(fb, "ui_sequence"));
}
#endif

// Random keys (with modifiers) never break the UI's invariants, and the device layer's
// answers to its requests (play/stop/load) are simulated along the way.
TEST(UiRandom, TenThousandKeysKeepInvariants) {
    Box b;
    std::mt19937 rng(20261121);
    const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789[]+-.=!";
    std::uniform_int_distribution<int> kind(0, 99);
    std::uniform_int_distribution<int> special(static_cast<int>(Key::up),
                                               static_cast<int>(Key::f12));
    std::uniform_int_distribution<std::size_t> ch(0, sizeof chars - 2);
    std::uniform_int_distribution<int> mods(0, 7);
    for (int i = 0; i < 10'000; ++i) {
        KeyEvent e;
        const int r = kind(rng);
        const auto m = static_cast<std::uint8_t>(kind(rng) < 70 ? 0 : mods(rng));
        if (r < 50) {
            e = KeyEvent::chr(chars[ch(rng)], m);
        } else {
            e = KeyEvent::of(static_cast<Key>(special(rng)), m);
        }
        b.key(e);
        const unsigned req = b.ui.take_requests();
        if ((req & request_play) != 0) {
            b.seq.play(b.now);
        }
        if ((req & request_stop) != 0) {
            b.seq.stop();
        }
        if ((req & request_load) != 0) {
            b.seq.model_for_load() = default_model();
            b.seq.loaded();
            b.ui.reset_after_load();
        }
        b.seq.tick(b.now, [](const StepEvent&) {});
        b.ui.tick(b.now);

        const UiState& s = b.st();
        const Model& model = b.seq.model();
        ASSERT_LT(s.track, outputs) << i;
        ASSERT_LT(s.step, steps_per_pattern) << i;
        ASSERT_LT(s.pattern, pattern_count) << i;
        ASSERT_LE(s.slot, model.chain_length) << i;
        ASSERT_LT(s.slot, chain_capacity) << i;
        ASSERT_LE(model.chain_length, chain_capacity) << i;
        ASSERT_GE(model.tempo_bpm100, min_tempo_bpm100) << i;
        ASSERT_LE(model.tempo_bpm100, max_tempo_bpm100) << i;
        ASSERT_LE(model.swing, max_swing) << i;
        ASSERT_LT(s.entry_len, entry_capacity) << i;
        ASSERT_EQ(std::strlen(s.entry), s.entry_len) << i;
        ASSERT_LT(std::strlen(s.message), message_capacity) << i;
        ASSERT_LE(static_cast<int>(s.mode), static_cast<int>(UiMode::confirm)) << i;
        ASSERT_EQ(s.mode == UiMode::confirm, s.confirm != ConfirmAction::none) << i;
        for (unsigned j = 0; j < model.chain_length; ++j) {
            ASSERT_LT(model.chain[j].pattern, pattern_count) << i;
            ASSERT_GE(model.chain[j].repeats, 1) << i;
            ASSERT_LE(model.chain[j].repeats, max_repeats) << i;
        }
        if (i % 97 == 0) { // the renderer accepts every state the UI reaches
            Framebuffer fb;
            render(b.seq, s, fb);
        }
    }
}

} // namespace
} // namespace lockstep::fw
