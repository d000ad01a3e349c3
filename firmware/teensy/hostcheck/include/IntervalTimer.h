#pragma once
// Host check only: a one-shot view of IntervalTimer. The test runs the armed handler itself.
namespace fake {

struct Timer {
    void (*handler)() = nullptr; // armed handler, null when ended
    unsigned period_us = 0;
    unsigned begins = 0;
};
extern Timer timer;

} // namespace fake

class IntervalTimer {
public:
    bool begin(void (*handler)(), unsigned period_us) {
        fake::timer.handler = handler;
        fake::timer.period_us = period_us;
        ++fake::timer.begins;
        return true;
    }
    void end() { fake::timer.handler = nullptr; }
    void priority(unsigned char /*level*/) {}
};
