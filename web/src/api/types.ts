// Wire types of the Parley API (docs/api.md, docs/openapi.yaml), as the web client uses them.
export interface LoginResult {
  user_id: string;
  device_id: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}
export interface User {
  user_id: string;
  username: string;
  display_name: string;
  profile_pic_url?: string;
  created_at?: number;
}
export interface DeviceInfo {
  device_id: string;
  device_name: string;
  created_at: number;
  last_seen_at: number;
  current?: boolean;
}
export interface Message {
  message_id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_device_id: string;
  created_at: number;
  content_type: string;
  encryption: string;
  body: string;
  media_ids: string[];
  search_tokens?: string[];
  reply_to?: string | null;
}
export interface ToDevice {
  id?: number;
  to_device_id: string;
  sender_id: string;
  sender_device_id: string;
  body: string;
  created_at: number;
}
export interface Conversation {
  conversation_id: string;
  type: 'direct' | 'group';
  title: string;
  peer_user_id?: string;
  group_id?: string;
  last_message: Message | null;
  last_seq: number;
  read_seq: number;
  unread_count: number;
  last_activity_at?: number;
  member?: boolean;
}
export interface GroupMember {
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  joined_at: number;
}
export interface Group {
  group_id: string;
  conversation_id: string;
  name: string;
  creator_id: string;
  created_at: number;
  updated_at: number;
  members: GroupMember[];
}
export interface PresenceStatus {
  user_id: string;
  status: 'online' | 'away' | 'busy' | 'offline';
  text?: string;
  last_seen_at?: number | null;
}
export interface Upload {
  media_id: string;
  media_type: string;
  size: number;
  sha256: string;
  url: string;
}
export interface KeysDevice {
  device_id: string;
  identity_key: string;
  signing_key: string;
  signed_prekey: { key_id: number; public_key: string; signature: string };
  one_time_prekey?: { key_id: number; public_key: string };
}
