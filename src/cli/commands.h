// The `parley` commands: each takes the opened Client and the parsed arguments, prints through
// Output and returns the process exit code (0, or ExitCodeOf the error).
#pragma once

#include <string>
#include <vector>

#include "cli/output.h"
#include "sdk/client/client.h"

namespace parley::cli {

struct Args {
  std::string user, target, text, path, out, message_id, group, name, role, status, status_text;
  std::string password, display_name, search_in, device_id, on_off;
  std::vector<std::string> words, members, of;
  int limit = 50;
  bool mark_verified = false;
  bool search_server = false;  // search --server
};

struct Ctx {
  sdk::Client& client;
  const Output& out;
  Args& args;
};

int CmdSignup(Ctx& c);
int CmdLogin(Ctx& c);
int CmdLogout(Ctx& c);
int CmdWhoami(Ctx& c);
int CmdSend(Ctx& c);
int CmdSendFile(Ctx& c);
int CmdGetFile(Ctx& c);
int CmdSync(Ctx& c);
int CmdChat(Ctx& c);
int CmdHistory(Ctx& c);
int CmdSearch(Ctx& c);
int CmdSearchOptIn(Ctx& c);
int CmdConversations(Ctx& c);
int CmdGroupsCreate(Ctx& c);
int CmdGroupsAdd(Ctx& c);
int CmdGroupsRemove(Ctx& c);
int CmdGroupsRole(Ctx& c);
int CmdGroupsRename(Ctx& c);
int CmdGroupsLeave(Ctx& c);
int CmdGroupsShow(Ctx& c);
int CmdGroupsList(Ctx& c);
int CmdDevices(Ctx& c);
int CmdDevicesRevoke(Ctx& c);
int CmdVerify(Ctx& c);
int CmdStatus(Ctx& c);

// The password: --password, else $PARLEY_PASSWORD, else a prompt without echo (or a line of
// stdin when it is not a terminal).
std::string ReadPassword(const std::string& given, const std::string& prompt);

}  // namespace parley::cli
