// The command table of lockstep-ctl against docs/osc.md (every documented control path and
// signature, both ways), and the Open Stage Control session docs/control/lockstep.json
// against the table (every address it sends exists, with the right arguments).
// The table against the running clients: tests/integration/ctl_session_test.cpp.
#include "ctl.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace lockstep::ctl {
namespace {

std::string source(const std::string& relative) {
    const char* root = std::getenv("LOCKSTEP_SOURCE_ROOT");
    std::ifstream in(std::string(root != nullptr ? root : ".") + "/" + relative);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

using Signatures = std::set<std::string>;
// role ("builtin" for every client's) -> path -> documented signatures.
using Documented = std::map<std::string, std::map<std::string, Signatures>>;

std::vector<std::string> cells(std::string row) {
    // "\|" inside a cell is a literal bar, not a column.
    for (std::size_t at; (at = row.find("\\|")) != std::string::npos;) {
        row.replace(at, 2, "/");
    }
    std::vector<std::string> out;
    std::size_t start = row.find('|') + 1;
    for (std::size_t end; (end = row.find('|', start)) != std::string::npos; start = end + 1) {
        std::string c = row.substr(start, end - start);
        c.erase(0, c.find_first_not_of(' '));
        c.erase(c.find_last_not_of(' ') + 1);
        out.push_back(c);
    }
    return out;
}

std::vector<std::string> backticked(const std::string& text) {
    std::vector<std::string> out;
    static const std::regex tick("`([^`]*)`");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), tick);
         it != std::sregex_iterator(); ++it) {
        out.push_back((*it)[1]);
    }
    return out;
}

// "`[i:pattern] i:num` 1–1024 `i:den`" -> {"ii", "iii"}; "`i slot` `s path`" -> {"is"};
// "none", "—", "" -> {""}. Alternatives are separated by " or ".
Signatures signatures_of(const std::string& cell) {
    Signatures out;
    std::vector<std::string> alternatives;
    std::size_t start = 0;
    for (std::size_t end; (end = cell.find(" or ", start)) != std::string::npos; start = end + 4) {
        alternatives.push_back(cell.substr(start, end - start));
    }
    alternatives.push_back(cell.substr(start));
    for (const std::string& alt : alternatives) {
        std::string joined;
        for (const auto& t : backticked(alt)) {
            joined += t + " ";
        }
        // Items: (type letter, optional?).
        std::vector<std::pair<char, bool>> items;
        bool optional = false;
        std::istringstream words(joined);
        for (std::string w; words >> w;) {
            const bool opens = w.starts_with('[');
            const bool closes = w.ends_with(']');
            if (opens) {
                optional = true;
                w.erase(0, 1);
            }
            if (closes) {
                w.pop_back();
            }
            const bool typed = (w.size() >= 2 && w[1] == ':') || w.size() == 1;
            if (typed && std::string("ifshdb").find(w[0]) != std::string::npos) {
                items.emplace_back(w[0], optional);
            }
            if (closes) {
                optional = false;
            }
        }
        // Every combination of the optional items (they are few).
        std::size_t n_optional = 0;
        for (const auto& i : items) {
            n_optional += i.second ? 1 : 0;
        }
        for (std::size_t mask = 0; mask < (std::size_t{1} << n_optional); ++mask) {
            std::string sig;
            std::size_t k = 0;
            for (const auto& [type, opt] : items) {
                if (!opt || (mask >> k++ & 1) != 0) {
                    sig += type;
                }
            }
            out.insert(sig);
        }
    }
    return out;
}

Documented parse_osc_md() {
    Documented doc;
    std::istringstream in(source("docs/osc.md"));
    std::string role;           // "" outside a client's section
    bool skip_table = false;    // feedback tables ("| path | args | when |")
    bool table_is_path = false; // the current table's first column is a path
    std::string step_signature; // "### Steps — `[i:pattern] ...`" applies to its table
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("## ") || line.starts_with("### ")) {
            const bool top = line.starts_with("## ");
            if (line.starts_with("## Built-in paths")) {
                role = "builtin";
            } else if (line.starts_with("## /seq")) {
                role = "seq";
            } else if (line.starts_with("## /sampler")) {
                role = "sampler";
            } else if (line.starts_with("## /capture")) {
                role = "capture";
            } else if (line.starts_with("## /bridge")) {
                role = "bridge";
            } else if (line.find("on the session") != std::string::npos) {
                role = "autosample";
            } else if (top) {
                role = "";
            }
            step_signature.clear();
            if (line.starts_with("### Steps")) {
                const auto t = backticked(line);
                step_signature = t.empty() ? "" : "`" + t[0] + "`";
            }
            continue;
        }
        if (!line.starts_with("|") || role.empty()) {
            continue;
        }
        const auto c = cells(line);
        if (c.size() < 2) {
            continue;
        }
        if (c[0] == "path") { // a header row
            table_is_path = true;
            skip_table = c.size() > 2 && c[2] == "when";
            continue;
        }
        if (!table_is_path || skip_table || c[0].starts_with("-")) {
            continue;
        }
        const std::string args = step_signature.empty() ? c[1] : step_signature;
        std::string first;
        for (const std::string& p : backticked(c[0])) {
            if (!p.starts_with('/')) {
                continue;
            }
            std::string path = p;
            // "`/capture/autosample/pause`, `/resume`": siblings of the first path.
            if (!first.empty() && p.find('/', 1) == std::string::npos) {
                path = first.substr(0, first.rfind('/')) + p;
            }
            if (first.empty()) {
                first = path;
            }
            doc[role][path] = signatures_of(args);
        }
    }
    return doc;
}

Signatures table_signatures(const Command& c) {
    Signatures s;
    for (auto sig : c.signatures) {
        s.insert(osc_types(sig));
    }
    return s;
}

TEST(CtlDocs, ParserReadsTheDocumentedForms) {
    EXPECT_EQ(signatures_of("`[i:pattern] i:num` 1–1024 `i:den` 1–6144"),
              (Signatures{"ii", "iii"}));
    EXPECT_EQ(signatures_of("`i slot` `s path`"), (Signatures{"is"}));
    EXPECT_EQ(signatures_of("`f:bpm` 20–999 (read to 1/1000) or `s:bpm`"), (Signatures{"f", "s"}));
    EXPECT_EQ(signatures_of("none"), (Signatures{""}));
    EXPECT_EQ(signatures_of("`[s url]`"), (Signatures{"", "s"}));
}

TEST(CtlDocs, TableEqualsDocsOscMd) {
    const Documented doc = parse_osc_md();
    ASSERT_GE(doc.size(), 6u) << "docs/osc.md sections not found";
    // The documented paths and signatures, each in the table.
    for (const auto& [role_name, paths] : doc) {
        for (const auto& [path, sigs] : paths) {
            for (const Role& r : roles()) {
                if (role_name != "builtin" && r.name != role_name) {
                    continue;
                }
                const Command* c = find_command(r, path);
                ASSERT_NE(c, nullptr) << r.name << " lacks documented " << path;
                EXPECT_EQ(table_signatures(*c), sigs) << r.name << " " << path;
            }
        }
    }
    // And the table holds nothing that is not documented.
    for (const Role& r : roles()) {
        for (const Command& c : r.commands) {
            const std::string path(c.path);
            const bool builtin = doc.at("builtin").contains(path);
            const bool own =
                doc.contains(std::string(r.name)) && doc.at(std::string(r.name)).contains(path);
            EXPECT_TRUE(builtin || own) << r.name << " " << path << " is not in docs/osc.md";
        }
    }
}

// ---- the Open Stage Control session ---------------------------------------------------

struct Widget {
    std::string type;
    std::string address;
    std::size_t args = 0;  // preArgs + the value, if the widget sends one
    std::string type_tags; // "" if not given
    bool display_only = false;
};

void collect(const nlohmann::json& j, std::vector<Widget>& out) {
    if (j.is_array()) {
        for (const auto& x : j) {
            collect(x, out);
        }
        return;
    }
    if (!j.is_object()) {
        return;
    }
    if (j.contains("address") && j["address"].is_string() && j["address"] != "auto") {
        Widget w;
        w.type = j.value("type", "");
        w.address = j["address"];
        const std::size_t pre = j.contains("preArgs") ? j["preArgs"].size() : 0;
        // A button whose "on" is null sends no value (a bare trigger: /seq/play).
        const bool no_value = w.type == "button" && j.contains("on") && j["on"].is_null();
        w.args = pre + (no_value ? 0 : 1);
        w.type_tags = j.value("typeTags", "");
        w.display_only = w.type == "text";
        out.push_back(w);
    }
    for (const auto& [key, value] : j.items()) {
        if (value.is_structured()) {
            collect(value, out);
        }
    }
}

TEST(CtlOpenStageControl, EveryAddressIsAControlPathWithItsArguments) {
    const std::string text = source("docs/control/lockstep.json");
    ASSERT_FALSE(text.empty()) << "docs/control/lockstep.json missing";
    const auto json = nlohmann::json::parse(text);
    EXPECT_EQ(json.value("type", ""), "session");
    std::vector<Widget> widgets;
    collect(json, widgets);
    ASSERT_GE(widgets.size(), 64u); // at least the 4 x 16 step grid
    const std::string osc_md = source("docs/osc.md");
    std::set<std::string> seen;
    for (const Widget& w : widgets) {
        seen.insert(w.address);
        // Documented (feedback-only paths such as /capture/meter included).
        EXPECT_NE(osc_md.find("`" + w.address), std::string::npos)
            << w.address << " is not in docs/osc.md";
        if (w.display_only) {
            continue;
        }
        const Command* command = nullptr;
        for (const Role& r : roles()) { // its client's path, or a built-in
            if (command == nullptr) {
                command = find_command(r, w.address);
            }
        }
        ASSERT_NE(command, nullptr) << w.address << " is no control path";
        bool matched = false;
        for (auto sig : command->signatures) {
            const std::string types = osc_types(sig);
            if (types.size() == w.args && (w.type_tags.empty() || w.type_tags == types)) {
                matched = true;
            }
        }
        EXPECT_TRUE(matched) << w.type << " " << w.address << " sends " << w.args
                             << " arguments typed '" << w.type_tags << "'; "
                             << usage(*find_role("seq"), *command);
    }
    for (const char* must : {"/seq/step", "/seq/play", "/seq/stop", "/seq/tempo", "/sampler/gain",
                             "/capture/status", "/capture/meter"}) {
        EXPECT_TRUE(seen.contains(must)) << must;
    }
}

} // namespace
} // namespace lockstep::ctl
