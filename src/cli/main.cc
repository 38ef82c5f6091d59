// parley: the command-line client, a thin main over the SDK's Client (src/sdk/client).
// Parses the command line, opens the profile, runs one command (commands.cc, chat.cc).
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>

#include "cli/commands.h"
#include "sdk/client/client_profile.h"

namespace {

using namespace parley;
using cli::Args;
using Command = std::function<int(cli::Ctx&)>;

struct Registry {
  std::vector<std::pair<CLI::App*, Command>> commands;
  void Add(CLI::App* app, Command cmd) { commands.emplace_back(app, std::move(cmd)); }
};

void DefineCommands(CLI::App& app, Args& a, Registry& r) {
  auto* signup = app.add_subcommand("signup", "Create an account and log this device in");
  signup->add_option("USER", a.user, "Username: 3-32 of a-z 0-9 _ .")->required();
  signup->add_option("--password", a.password, "Password (else $PARLEY_PASSWORD, else asked)");
  signup->add_option("--display-name", a.display_name, "Name shown to others");
  r.Add(signup, cli::CmdSignup);

  auto* login =
      app.add_subcommand("login", "Log in (resumes this profile's device, else a new one)");
  login->add_option("USER", a.user, "Username")->required();
  login->add_option("--password", a.password, "Password (else $PARLEY_PASSWORD, else asked)");
  r.Add(login, cli::CmdLogin);

  r.Add(app.add_subcommand("logout", "Log this device out (keys stay for the next login)"),
        cli::CmdLogout);
  r.Add(app.add_subcommand("whoami", "Show the logged-in account"), cli::CmdWhoami);

  auto* send = app.add_subcommand("send", "Send an end-to-end encrypted text message");
  send->add_option("TO", a.target, "Username, user id or group id")->required();
  send->add_option("TEXT", a.words, "The message (several words are joined)")->required();
  r.Add(send, cli::CmdSend);

  auto* send_file = app.add_subcommand("send-file", "Encrypt and send a file");
  send_file->add_option("TO", a.target, "Username, user id or group id")->required();
  send_file->add_option("PATH", a.path, "The file")->required();
  r.Add(send_file, cli::CmdSendFile);

  auto* get_file = app.add_subcommand("get-file", "Download, verify and decrypt a received file");
  get_file->add_option("MESSAGE_ID", a.message_id, "The file message's id")->required();
  get_file->add_option("--out,-o", a.out, "Where to write it (default: its name, here)");
  r.Add(get_file, cli::CmdGetFile);

  r.Add(app.add_subcommand("sync", "Fetch what is pending and print new messages"), cli::CmdSync);

  auto* chat = app.add_subcommand("chat", "Interactive chat: live messages, receipts, typing");
  chat->add_option("WITH", a.target, "Username, user id or group id")->required();
  r.Add(chat, cli::CmdChat);

  auto* history = app.add_subcommand("history", "Show a conversation's messages");
  history->add_option("WITH", a.target, "Username, user id or group id")->required();
  history->add_option("--limit,-n", a.limit, "How many (newest)")->capture_default_str();
  r.Add(history, cli::CmdHistory);

  auto* search = app.add_subcommand(
      "search", "Search decrypted messages on this device (--remote: server-assisted)");
  search->add_option("TEXT", a.text, "Words to find (all must match; the last as a prefix)")
      ->required();
  auto* search_in =
      search->add_option("--in", a.search_in, "Only in this conversation (username or group id)");
  search->add_flag("--remote", a.search_server,
                   "Server-assisted: ask the server by search tokens (needs --in and "
                   "search-opt-in; whole words only)")
      ->needs(search_in);
  search->add_option("--limit,-n", a.limit, "At most this many")->capture_default_str();
  r.Add(search, cli::CmdSearch);

  auto* opt_in = app.add_subcommand(
      "search-opt-in",
      "Turn server-assisted search on/off for a conversation on this device (off by default; "
      "it leaks word patterns, see docs/protocol.md §9)");
  opt_in->add_option("WITH", a.target, "Username, user id or group id")->required();
  opt_in->add_option("ON_OFF", a.on_off, "on or off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  r.Add(opt_in, cli::CmdSearchOptIn);

  r.Add(app.add_subcommand("conversations", "List conversations, newest activity first"),
        cli::CmdConversations);

  auto* groups = app.add_subcommand("groups", "Manage groups");
  groups->require_subcommand(1);
  auto* gc = groups->add_subcommand("create", "Create a group (you are its owner)");
  gc->add_option("NAME", a.name, "Group name")->required();
  gc->add_option("MEMBERS", a.members, "Usernames to add");
  r.Add(gc, cli::CmdGroupsCreate);
  auto* ga = groups->add_subcommand("add", "Add a member");
  ga->add_option("GROUP_ID", a.group, "Group id")->required();
  ga->add_option("USER", a.user, "Username or id")->required();
  ga->add_option("--role", a.role, "member (default) or admin");
  r.Add(ga, cli::CmdGroupsAdd);
  auto* gr = groups->add_subcommand("remove", "Remove a member (their keys are rotated out)");
  gr->add_option("GROUP_ID", a.group, "Group id")->required();
  gr->add_option("USER", a.user, "Username or id")->required();
  r.Add(gr, cli::CmdGroupsRemove);
  auto* grole = groups->add_subcommand("role", "Set a member's role");
  grole->add_option("GROUP_ID", a.group, "Group id")->required();
  grole->add_option("USER", a.user, "Username or id")->required();
  grole->add_option("ROLE", a.role, "owner, admin or member")->required();
  r.Add(grole, cli::CmdGroupsRole);
  auto* gn = groups->add_subcommand("rename", "Rename a group");
  gn->add_option("GROUP_ID", a.group, "Group id")->required();
  gn->add_option("NAME", a.name, "New name")->required();
  r.Add(gn, cli::CmdGroupsRename);
  auto* gl = groups->add_subcommand("leave", "Leave a group");
  gl->add_option("GROUP_ID", a.group, "Group id")->required();
  r.Add(gl, cli::CmdGroupsLeave);
  auto* gs = groups->add_subcommand("show", "Show a group and its members");
  gs->add_option("GROUP_ID", a.group, "Group id")->required();
  r.Add(gs, cli::CmdGroupsShow);
  r.Add(groups->add_subcommand("list", "List your groups"), cli::CmdGroupsList);

  auto* devices = app.add_subcommand("devices", "List your devices (or revoke one)");
  devices->require_subcommand(0, 1);
  auto* revoke = devices->add_subcommand("revoke", "Revoke a device: it is logged out for good");
  revoke->add_option("DEVICE_ID", a.device_id, "Device id")->required();
  r.Add(revoke, cli::CmdDevicesRevoke);
  r.Add(devices, cli::CmdDevices);  // after revoke: the most specific parsed command wins

  auto* verify = app.add_subcommand("verify", "Show the safety number shared with a user");
  verify->add_option("USER", a.user, "Username or id")->required();
  verify->add_flag("--mark-verified", a.mark_verified,
                   "You compared it: clear the key-change mark");
  r.Add(verify, cli::CmdVerify);

  auto* status = app.add_subcommand("status", "Show or set your presence");
  status->add_option("STATUS", a.status, "online, away, busy or offline")
      ->check(CLI::IsMember({"online", "away", "busy", "offline"}));
  status->add_option("--text", a.status_text, "A status line");
  status->add_option("--of", a.of, "Show these users' presence instead of yours");
  r.Add(status, cli::CmdStatus);
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::cerr << "parley: libsodium failed to initialise\n";
    return 10;
  }
  CLI::App app{
      "parley — the Parley end-to-end encrypted messenger on the command line.\n"
      "Every message and file is encrypted on this device; the server sees only ciphertext.\n"
      "Start with: parley signup NAME, then parley send USER \"hi\", parley sync,\n"
      "parley chat USER."};
  app.fallthrough();  // global options may follow the command
  app.require_subcommand(1);
  app.set_version_flag("--version", "parley 0.1.0");
  std::string server, profile;
  bool json = false;
  app.add_option("--server", server,
                 "Server URL (default: remembered in the profile, else http://127.0.0.1:8080)")
      ->envname("PARLEY_SERVER");
  app.add_option("--profile", profile,
                 "Profile name (~/.parley/NAME, or $PARLEY_HOME/NAME) or a directory path")
      ->envname("PARLEY_PROFILE");
  app.add_flag("--json", json, "Machine-readable output: one JSON object per line");
  Args args;
  Registry registry;
  DefineCommands(app, args, registry);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 1;  // --help is success; every usage error is 1
  }

  cli::Output out(json);
  auto dir = sdk::ProfileDir(profile);
  if (!dir.ok()) return out.Fail(dir.error());
  sdk::ClientOptions opts;
  opts.profile_dir = *dir;
  opts.server_url = server;
  auto client = sdk::Client::Open(opts);
  if (!client.ok()) return out.Fail(client.error());

  // The most specific parsed command: registry order puts subcommands before their parents.
  for (auto& [cmd_app, cmd] : registry.commands) {
    if (!cmd_app->parsed()) continue;
    bool child_parsed = false;
    for (auto* sub : cmd_app->get_subcommands({})) child_parsed = child_parsed || sub->parsed();
    if (child_parsed) continue;
    cli::Ctx ctx{**client, out, args};
    return cmd(ctx);
  }
  std::cerr << app.help();
  return 1;
}
