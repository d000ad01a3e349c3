// `lockstep-capture autosample ...` (docs/capture.md "Autosampler"): main() of
// lockstep-capture hands it its arguments from "autosample" on (argv[0] = "autosample").
// Returns the process exit code. Thread: the main thread.
#pragma once

namespace lockstep::capture {

int autosample_main(int argc, const char* const* argv);

} // namespace lockstep::capture
