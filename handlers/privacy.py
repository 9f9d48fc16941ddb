"""Privacy in the chat: what is stored, consent withdrawal, one's own data, erasure."""

from __future__ import annotations

from telegram import InputFile, Update

from bot.buttons import Forget, WithdrawConsent
from bot.models import UserRef
from handlers import keyboards
from handlers.common import answer_button, button, reply
from handlers.context import Context


async def privacy_command(update: Update, context: Context) -> None:
    """What is stored, why, for how long and who sees it; and what the person can do."""
    if context.user is None:
        return
    services = context.services
    lang = await context.lang()
    days = services.event.event.retention_days
    retention = (
        services.texts(lang, "privacy.retention_days", days=days)
        if days
        else services.texts(lang, "privacy.retention_none")
    )
    await reply(update, services.texts(lang, "privacy.text", retention=retention))


async def withdraw_command(update: Update, context: Context) -> None:
    if context.user is None:
        return
    texts = context.services.texts
    lang = await context.lang()
    await reply(update, texts(lang, "withdraw.confirm"), keyboards.withdraw(texts, lang))


@button(WithdrawConsent)
async def withdraw_button(
    update: Update, context: Context, user: UserRef, pressed: WithdrawConsent
) -> None:
    services = context.services
    lang = await context.lang()
    if not pressed.yes:
        await answer_button(update, services.texts(lang, "withdraw.kept"))
        return
    withdrawn = await services.privacy.withdraw(user)
    key = "withdraw.done" if withdrawn else "withdraw.nothing"
    await answer_button(update, services.texts(lang, key))


async def mydata_command(update: Update, context: Context) -> None:
    """The person's own data as a JSON file."""
    user = context.user
    chat = update.effective_chat
    if user is None or chat is None:
        return
    services = context.services
    lang = await context.lang()
    data = await services.privacy.my_data(user)
    await chat.send_document(
        InputFile(data, filename=f"samtidig-{user.user_id}.json"),
        caption=services.texts(lang, "mydata.caption"),
    )


async def forget_command(update: Update, context: Context) -> None:
    if context.user is None:
        return
    lang = await context.lang()
    texts = context.services.texts
    await reply(update, texts(lang, "forget.confirm"), keyboards.forget(texts, lang))


@button(Forget)
async def forget_button(update: Update, context: Context, user: UserRef, pressed: Forget) -> None:
    # Ask for the language before erasing: afterwards the chosen one is gone too.
    lang = await context.lang()
    if pressed.yes:
        await context.services.privacy.forget(user)
        await answer_button(update, context.services.texts(lang, "forget.done"))
    else:
        await answer_button(update, context.services.texts(lang, "forget.kept"))
