-- The bot's quick-reply menu per language, as admins set it: the buttons its
-- greetings carry (查订单, 退换货, 转人工...). Without a row, the built-in menu.
CREATE TABLE bot_menus (
    lang       TEXT PRIMARY KEY,    -- zh | en
    buttons    TEXT NOT NULL,       -- JSON array of 1 to 6 button texts
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
