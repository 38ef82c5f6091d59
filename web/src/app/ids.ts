// Ids the client must compute itself (twin of src/common/ids.cc).
export { directConversationId } from '../protocol/ids';

export function uuidV4(): string {
  return crypto.randomUUID();
}
