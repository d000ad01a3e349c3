// The New Session Manager (NSM) protocol, client side (API 1.1; docs/operations.md "Under
// a session manager"). When NSM_URL is set a client announces itself, waits for
// /nsm/client/open, and only then opens its JACK client, named with the client id the
// server gave; its state lives at the session path the server gave. The server asks it to
// save, and a client with the :dirty: capability says when it has unsaved changes.
//
// Every message goes out from, and every reply comes back to, one UDP socket of the
// session's (the server tells its clients apart by their return address). Decoding uses
// the same strict OSC decoder as the control endpoint; anything else on the socket is
// ignored with a log line.
//
// Thread: control thread only; nothing here blocks except join_from_env() and wait_open().
#pragma once

#include "osc/endpoint.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lockstep::service::nsm {

// Error codes of the NSM API.
namespace error {
inline constexpr int general = -1;
inline constexpr int not_now = -8;
inline constexpr int bad_project = -9;
inline constexpr int create_failed = -10;
inline constexpr int save_failed = -1; // ERR_SAVE_FAILED has no number of its own: ERR_GENERAL
} // namespace error

// What /nsm/client/open says.
struct Open {
    std::string path;         // where the client keeps its state: a prefix, no extension
    std::string display_name; // for the user
    std::string client_id;    // the JACK client name to use
};

// A request from the server, as poll() returns it.
enum class Request : std::uint8_t {
    none,  // nothing (more) arrived
    save,  // /nsm/client/save: answer with saved() or save_failed()
    loaded // /nsm/client/session_is_loaded (informational)
};

class Session {
public:
    // Opens the socket, resolves `url` ("osc.udp://HOST:PORT/") and sends
    // /nsm/server/announce. Throws std::runtime_error with a readable reason when the URL
    // is bad or cannot be reached.
    Session(std::string_view url, std::string application_name, std::string capabilities,
            std::string executable);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Waits up to `timeout` for the announce reply and then the open message. Returns the
    // open, or nullopt with `why` set (an /error reply, a refused socket, the timeout, or
    // `stop_fd` readable: a SIGTERM's signalfd; then `stopped` is set).
    std::optional<Open> wait_open(std::chrono::milliseconds timeout, std::string& why,
                                  int stop_fd = -1, bool* stopped = nullptr);

    // Answers /nsm/client/open.
    void opened(std::string_view message);
    void open_failed(int code, std::string_view message);

    // Non-blocking: the next request that arrived, or Request::none.
    Request poll();
    // Answers /nsm/client/save.
    void saved(std::string_view message);
    void save_failed(int code, std::string_view message);

    // Sends /nsm/client/is_dirty or /nsm/client/is_clean when `dirty` differs from what was
    // last sent (nothing before open, and only with the :dirty: capability).
    void set_dirty(bool dirty);

    // What the server said of itself in its announce reply.
    const std::string& server_name() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// What a lockstep client does at start when NSM_URL is set: announce as
// `application_name` (the JACK name it would use on its own, e.g. "lockstep-seq"), wait
// up to `timeout` for the open, and return the session. Returns nullptr when NSM_URL is
// unset, or when NSM cannot be used (bad URL, no server, an /error reply, no open in
// time): the client then runs without session management, as the API asks, and this has
// logged one line saying why. While it waits, a readable `stop_fd` (the SignalWaiter's
// signalfd: SIGTERM from the session manager, Ctrl-C) ends the wait: `stopped` is set,
// and the client should exit at once, having opened nothing and saved nothing.
std::unique_ptr<Session>
join_from_env(std::string application_name, std::string capabilities, std::string executable,
              std::optional<Open>& open, int stop_fd, bool& stopped,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The client's OSC endpoint. A session may run a client more than once, and nsmd starts
// it without arguments: under a session manager (`under_nsm`) and without --osc
// (`osc_given` false), when the default port is taken it listens on a free port instead
// (logged). Otherwise as osc::Endpoint's constructor, exceptions included.
std::unique_ptr<osc::Endpoint> make_endpoint(osc::Endpoint::Config config, bool under_nsm,
                                             bool osc_given);

// Answers the open with an error (ERR_GENERAL) when `session` is not null: for a client's
// start-up failures, before it exits.
void open_failed(Session* session, std::string_view why);

// A client's control loop, each turn: answers every request that arrived (`save()` saves
// now and returns "" or why it could not), then tells the server whether there are unsaved
// changes (`dirty()`, asked after the saves).
void serve(Session& session, const std::function<std::string()>& save,
           const std::function<bool()>& dirty);

} // namespace lockstep::service::nsm
