-- Chats the bot found it can no longer write to as a site's facilitator chat: not found, the
-- bot removed or not a member (`moved_to` NULL: the site's cards go to the facilitators'
-- private chats), or a group upgraded to a supergroup (`moved_to`: the chat's new id). Kept
-- so that a restart remembers; the row goes when Telegram says the bot is back in the chat.
CREATE TABLE lost_chats (
    chat_id   INTEGER PRIMARY KEY,
    reason    TEXT    NOT NULL,  -- Telegram's description, which never quotes a message
    moved_to  INTEGER,
    since     TEXT    NOT NULL
);
