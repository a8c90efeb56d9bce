// SPDX-License-Identifier: Apache-2.0
#include "app/cli.hpp"

#include "app/client.hpp"
#include "app/config_loader.hpp"
#include "app/logging.hpp"
#include "app/serve.hpp"
#include "core/log.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ssehub::app {

namespace {

constexpr std::size_t help_column_width = 40;

// Indents a command line and breaks it before a word that would pass the help's width,
// with a `\` so that it can still be pasted into a shell.
std::string wrap(std::string_view command) {
    constexpr std::size_t indent = 2;
    constexpr std::size_t width = 76;
    std::string out(indent, ' ');
    std::size_t line = indent;
    while (!command.empty()) {
        const auto space = std::min(command.find(' '), command.size());
        const auto word = command.substr(0, space);
        command.remove_prefix(std::min(space + 1, command.size()));
        if (line > indent && line + 1 + word.size() > width) {
            out += " \\\n" + std::string(2 * indent, ' ');
            line = 2 * indent;
        } else if (line > indent) {
            out += ' ';
            ++line;
        }
        out += word;
        line += word.size();
    }
    return out;
}

std::string serve_footer() {
    return "Every option is also a key of the TOML file and an environment variable:\n"
           "  --session-grace 30s  =  [session] grace = \"30s\"  =  SSEHUB_SESSION_GRACE=30s\n"
           "The command line wins over the environment, which wins over the file\n"
           "(--config or SSEHUB_CONFIG). Durations take ms, s, m or h (500ms, 10s);\n"
           "sizes take KiB, MiB or GiB, or a number of bytes. Lists are comma-separated.\n"
           "\n"
           "Example:\n" +
           wrap("ssehub serve " + std::string(serve_example)) + "\n";
}

// Reads the hub's configuration from every source and runs it.
int run_serve(const command_line& settings) {
    const auto env = process_environment();
    auto file = read_config_file(settings, env);
    if (!file) {
        std::cerr << file.error().message << '\n';
        return exit_usage;
    }
    auto cfg = load_config(settings, env, *file);
    if (!cfg) {
        std::cerr << cfg.error().message << '\n';
        return exit_usage;
    }
    if (auto ok = init_logging(cfg->log_level, cfg->log_format); !ok) {
        std::cerr << "configuration error: " << ok.error().message << '\n';
        return exit_usage;
    }

    core::logger("app")->info("configuration read (file={})",
                              *file ? (*file)->name : std::string("none"));
    return serve(*cfg);
}

std::optional<std::string> read_document(const std::string& path, std::ostream& err) {
    std::ostringstream text;
    if (path == "-") {
        text << std::cin.rdbuf();
        return text.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        err << "ssehub: cannot read " << path << ": " << std::strerror(errno) << '\n';
        return std::nullopt;
    }
    text << in.rdbuf();
    return text.str();
}

// An option whose absence means something: it is set only when the flag is given.
void add_optional(CLI::App& cmd, const std::string& name, std::optional<std::string>& into,
                  const std::string& help) {
    cmd.add_option_function<std::string>(
           name, [&into](const std::string& value) { into = value; }, help)
        ->take_last();
}

} // namespace

int run_cli(int argc, const char* const* argv) {
    CLI::App app{"ssehub: a Server-Sent Events hub, and a client for it", "ssehub"};
    app.get_formatter()->column_width(help_column_width);
    app.require_subcommand(1);

    // serve: every option comes from the configuration table.
    auto* serve_cmd = app.add_subcommand("serve", "run the hub");
    command_line settings;
    add_config_options(*serve_cmd, settings);
    serve_cmd->footer(serve_footer());

    // The client commands share where the hub is and the namespace they act in.
    client_options client;
    const auto add_hub = [&client](CLI::App& cmd, bool in_namespace) {
        cmd.add_option("--url", client.url, "the hub's address")
            ->envname("SSEHUB_URL")
            ->capture_default_str();
        cmd.add_option("--token", client.token, "API key or JWT, sent as a Bearer credential")
            ->envname("SSEHUB_TOKEN");
        cmd.add_option("--ca-file", client.ca_file,
                       "https:// URLs: PEM file of the CAs to trust (default: the system's)")
            ->envname("SSEHUB_CA_FILE")
            ->check(CLI::ExistingFile);
        if (in_namespace) {
            cmd.add_option("--digipair", client.digipair, "namespace: the digipair");
            cmd.add_option("--reasoning", client.reasoning, "namespace: the reasoning");
        }
    };
    std::string message;
    std::optional<std::string> event;
    const std::string message_help = "JSON, or any other text, sent as a JSON string";
    const std::string event_help = "the event name (default message)";

    auto* push_cmd = app.add_subcommand("push", "send a message to one session");
    std::string session;
    push_cmd->add_option("SESSION", session, "the session id")->required();
    push_cmd->add_option("MESSAGE", message, message_help)->required();
    add_optional(*push_cmd, "--event", event, event_help);
    add_hub(*push_cmd, true);
    push_cmd->footer("Example:\n  ssehub push session_12345 '{\"text\": \"hello\"}'\n");

    auto* broadcast_cmd = app.add_subcommand("broadcast", "send a message to a channel");
    std::optional<std::string> channel;
    broadcast_cmd->add_option("MESSAGE", message, message_help)->required();
    add_optional(*broadcast_cmd, "--channel", channel,
                 "the channel (default: every session of the namespace)");
    add_optional(*broadcast_cmd, "--event", event, event_help);
    add_hub(*broadcast_cmd, true);
    broadcast_cmd->footer("Example:\n  ssehub broadcast --channel room1 '{\"n\": 1}'\n");

    auto* run_cmd = app.add_subcommand("run", "execute the pins of a JSON file");
    std::string document_path;
    run_cmd->add_option("FILE", document_path, "a pin or an array of pins; - reads stdin")
        ->required();
    add_hub(*run_cmd, false);

    auto* tail_cmd = app.add_subcommand("tail", "follow a stream, one line per event");
    tail_options follow;
    tail_cmd->add_option_function<std::string>(
        "--session", [&follow](const std::string& v) { follow.session = v; }, "the session id");
    tail_cmd->add_option("--channel", follow.channels, "a channel to follow (repeatable)")
        ->allow_extra_args(false);
    tail_cmd->add_option_function<std::string>(
        "--last-event-id", [&follow](const std::string& v) { follow.last_event_id = v; },
        "resume after this event");
    tail_cmd->add_flag("--json", follow.json, "print {\"event\",\"id\",\"data\"} lines");
    tail_cmd->add_option_function<std::size_t>(
        "--count", [&follow](std::size_t n) { follow.count = n; }, "exit after N events");
    add_hub(*tail_cmd, true);
    tail_cmd->footer("Lines are EVENT ID DATA (- for an empty id). Ctrl-C ends the tail.\n"
                     "Example:\n  ssehub tail --session s1 --channel room1\n");

    auto* version_cmd = app.add_subcommand("version", "print the version");

    if (argc <= 1) {
        std::cerr << app.help();
        return exit_usage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);
        }
        std::cerr << "ssehub: " << e.what() << " (see ssehub --help)\n";
        return exit_usage;
    }

    if (serve_cmd->parsed()) {
        return run_serve(settings);
    }
    if (push_cmd->parsed()) {
        return push(client, session, message, event, std::cout, std::cerr);
    }
    if (broadcast_cmd->parsed()) {
        return broadcast(client, message, channel, event, std::cout, std::cerr);
    }
    if (run_cmd->parsed()) {
        auto document = read_document(document_path, std::cerr);
        if (!document) {
            return exit_usage;
        }
        return run_actions(client, std::move(*document), std::cout, std::cerr);
    }
    if (tail_cmd->parsed()) {
        return tail(client, follow, std::cout, std::cerr);
    }
    if (version_cmd->parsed()) {
        std::cout << "ssehub " << version << '\n';
    }
    return exit_ok;
}

} // namespace ssehub::app
