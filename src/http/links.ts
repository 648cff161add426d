/** The page of a chat for its owner, who can write to it. */
export const ownerUrl = (sessionId: string) => `/?client_id=${sessionId}`

/** The read-only page of a chat: the live transcript without the composer or Cancel. */
export const viewerUrl = (viewerId: string) => `/?view=${viewerId}`
