/**
 * The page of a chat for its owner, who can write to it. `client_id` is the session id's name in URLs and forms
 * (the original tutorial's, kept so that links and pages already out there keep working); routes read it and call
 * it `sessionId` from there on.
 */
export const ownerUrl = (sessionId: string) => `/?client_id=${sessionId}`

/** The read-only page of a chat: the live transcript without the composer or Cancel. */
export const viewerUrl = (viewerId: string) => `/?view=${viewerId}`
