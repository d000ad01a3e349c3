// lockstep box: Teensy 4.1 trigger box (firmware/README.md). The portable core
// (firmware/core, copied into src/core by ../prepare-sketch) does the work: Device is the
// protocol endpoint (the host link over USB serial, docs/bridge-protocol.md) in front of the
// trigger scheduler and the standalone sequencer, exactly as in lockstep-fwsim. This sketch and
// the box_* files are the thin hardware layer: clock, outputs and their timer, boot id, USB
// keyboard, SH1106 display, SD card, USB serial.
#include "box_boot_id.hpp"
#include "box_clock.hpp"
#include "box_display.hpp"
#include "box_keyboard.hpp"
#include "box_outputs.hpp"
#include "box_storage.hpp"
#include "src/core/device.hpp"
#include "src/core/display.hpp"
#include "src/core/sequencer.hpp"
#include "src/core/ui.hpp"

using namespace lockstep::fw;

namespace {

// Set by setup() (they need the boot id, which reads the EEPROM): the core and the UI on it.
Device* device = nullptr;
Ui* ui = nullptr;
Framebuffer fb;
bool dirty = true;             // the view must be redrawn
std::uint8_t last_step = 0xff; // redraw when the playhead moves
bool last_host = false;        // ... or the link comes or goes (HOST / SOLO)
std::uint32_t last_frames = 0; // ... or a host frame arrived (pattern, tempo, transport)

// Own transport starts this far ahead so that its first step is scheduled before it is due.
constexpr DeviceTime start_lead_ns = 10'000'000;

// Device output sink: one complete reply frame (main loop). Teensy's USB serial write waits
// for buffer space, with a timeout when the host does not read.
void write_host(void* /*context*/, const std::uint8_t* data, std::size_t size) {
    Serial.write(data, size);
}

DeviceTime read_clock(void* /*context*/) {
    return box::now();
}

Device::Config device_config(std::uint32_t boot_id) {
    Device::Config c;
    c.boot_id = boot_id;
    c.output = &write_host;
    c.clock = &read_clock;
    return c;
}

void act_on(Sequencer& seq, unsigned requests, DeviceTime now) {
    if ((requests & request_play) != 0) {
        seq.play(now + start_lead_ns); // refused while the host leads
    }
    if ((requests & request_stop) != 0) {
        seq.stop(); // pulses already scheduled still end on time
    }
    if ((requests & request_save) != 0) {
        ui->show_message(box::storage_save(seq.model()), box::now());
    }
    if ((requests & request_load) != 0) {
        ui->show_message(box::storage_load(seq), box::now());
        ui->reset_after_load();
    }
    if (requests != 0) {
        dirty = true;
    }
}

} // namespace

void setup() {
    box::clock_begin();
    Serial.begin(115200); // USB CDC: the rate is ignored, it runs at USB speed
    static Device the_device(device_config(box::next_boot_id()));
    static Ui the_ui(the_device.sequencer());
    device = &the_device;
    ui = &the_ui;
    box::outputs_begin(device->scheduler());
    box::keyboard_begin();
    box::display_begin();
    box::storage_begin();
}

void loop() {
    Sequencer& seq = device->sequencer();
    // Triggers the core queues below (host triggers, standalone steps) may be due before
    // the edge the timer is armed for: then the edge handler must run now.
    const std::uint32_t scheduled_before = device->scheduler().counters().scheduled;

    // Host link: bytes in, replies out through write_host. Their arrival time is read after
    // the read returns (pong.received: when the frame's closing 0x00 was read).
    std::uint8_t rx[64];
    const int avail = Serial.available();
    if (avail > 0) {
        const std::size_t want = static_cast<std::size_t>(avail) < sizeof rx
                                     ? static_cast<std::size_t>(avail)
                                     : sizeof rx;
        const std::size_t n = Serial.readBytes(reinterpret_cast<char*>(rx), want);
        device->on_bytes(rx, n, box::now());
    }

    // Keyboard -> UI -> sequencer edits and requests.
    const DeviceTime now = box::now();
    box::keyboard_task();
    KeyEvent key;
    while (box::keyboard_next(key)) {
        dirty |= ui->handle(key, now);
    }
    act_on(seq, ui->take_requests(), now);
    dirty |= ui->tick(now);

    // Host loss, and the own clock while no host leads: steps due within the lookahead go
    // to the trigger scheduler.
    device->poll(box::now());
    if (device->scheduler().counters().scheduled != scheduled_before) {
        box::outputs_kick();
    }

    const Position pos = seq.position();
    const std::uint32_t frames = device->decoder_counters().frames_ok;
    if (pos.step != last_step || pos.host != last_host || frames != last_frames) {
        last_step = pos.step;
        last_host = pos.host;
        last_frames = frames;
        dirty = true;
    }

    // Display: redraw when something changed and the last frame is out.
    if (dirty && box::display_idle()) {
        render(seq, ui->state(), fb);
        box::display_show(fb);
        dirty = false;
    }
    box::display_service();
}
