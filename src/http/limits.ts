/** The longest message a user may send; characters. */
export const MESSAGE_MAX_CHARS = 20_000
