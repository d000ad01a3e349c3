#include "box_storage.hpp"

#include <SD.h>

namespace box {
namespace {

constexpr const char* path = "/LOCKSTEP.PRJ";
constexpr const char* temp_path = "/LOCKSTEP.TMP";
// One byte more than the largest valid file, so that a longer file is seen as too long.
std::uint8_t buffer[lockstep::fw::project::max_file_size + 1];
bool card = false;

} // namespace

bool storage_begin() {
    card = SD.begin(BUILTIN_SDCARD);
    return card;
}

const char* storage_save(const lockstep::fw::Model& model) {
    if (!card && !storage_begin()) {
        return "NO SD CARD";
    }
    const std::size_t n = lockstep::fw::project::save(model, buffer, sizeof buffer);
    // Write a temporary file, then replace: a power cut never leaves a half-written project.
    SD.remove(temp_path);
    File f = SD.open(temp_path, FILE_WRITE);
    if (!f) {
        return "SAVE FAILED";
    }
    const std::size_t written = f.write(buffer, n);
    f.close();
    if (written != n) {
        return "SAVE FAILED";
    }
    SD.remove(path);
    if (!SD.rename(temp_path, path)) {
        return "SAVE FAILED";
    }
    return "SAVED";
}

const char* storage_load(lockstep::fw::Sequencer& seq) {
    if (!card && !storage_begin()) {
        return "NO SD CARD";
    }
    File f = SD.open(path, FILE_READ);
    if (!f) {
        return "NO PROJECT";
    }
    const int got = f.read(buffer, sizeof buffer);
    f.close();
    if (got < 0) {
        return "LOAD FAILED";
    }
    const auto status = lockstep::fw::project::load(seq, buffer, static_cast<std::size_t>(got));
    return status == lockstep::fw::project::Status::ok ? "LOADED" : "BAD PROJECT FILE";
}

} // namespace box
