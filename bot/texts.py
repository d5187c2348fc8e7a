"""Every string the bot says, in Arabic and English. Handlers never hold text of their own."""

from __future__ import annotations

LANGS = ("ar", "en")

TEXTS: dict[str, dict[str, str]] = {
    "start": {
        "ar": "أهلاً! أنا سند. اسألني عن الأخبار المفهرسة بالعربية أو الإنجليزية، وسأجيبك بمقاطع من "
        "المقالات نفسها، مع ذكر المصدر والفقرة.\n\nاكتب سؤالك مباشرة، أو /help للمزيد.",
        "en": "Hello! I am Sanad. Ask me about the indexed news in Arabic or English, and I will answer with "
        "passages quoted from the articles themselves, each with its source and paragraph.\n\n"
        "Just type your question, or /help for more.",
    },
    "welcome": {
        "ar": "عفواً! اسألني عن أي خبر آخر متى شئت.",
        "en": "You're welcome! Ask me about any other news whenever you like.",
    },
    "help": {
        "ar": "<b>كيف تسألني</b>\n"
        "• في المحادثة الخاصة: اكتب سؤالك فقط.\n"
        "• في المجموعات: <code>/ask سؤالك</code>، أو اذكرني، أو ردّ على إحدى رسائلي.\n"
        "• في أي محادثة: اكتب اسم المستخدم الخاص بي ثم سؤالك، واختر المقطع الذي تريد إرساله.\n"
        "• اسأل عن وقت: «أمس»، «الأسبوع الماضي»، «في مارس 2018»، أو «آخر أخبار …».\n\n"
        "أجيب باقتباسات حرفية من المقالات، ولا أكتب إجابات من عندي. الجملة الأقرب لسؤالك بخط عريض، "
        "وتحت كل مقطع مصدره ورقم فقرته.\n\n"
        "<b>الأوامر</b>\n/latest — أحدث المقالات (أو <code>/latest موضوع</code>)\n"
        "/sources — المقالات التي أعرفها\n/ask — اطرح سؤالاً\n"
        "/follow — تابِع قصة أو سؤالاً (أو «تابِع» تحت مقطع)، /following و/unfollow لما تتابعه\n"
        "/help — هذه الرسالة\n\n"
        "<b>How to ask</b>: type your question in Arabic or English (in groups: <code>/ask</code>, "
        "a mention, or a reply to me).",
        "en": "<b>How to ask</b>\n"
        "• In a private chat: just type your question.\n"
        "• In groups: <code>/ask your question</code>, mention me, or reply to one of my messages.\n"
        "• In any chat: type my username and your question, then pick the passage to send.\n"
        '• Ask about a time: "yesterday", "last week", "in March 2018", or "the latest on …".\n\n'
        "I answer with passages quoted word for word from the articles; I never write answers of my own. "
        "The sentence closest to your question is in bold, and each passage ends with its source and "
        "paragraph number.\n\n"
        "<b>Commands</b>\n/latest — the newest articles (or <code>/latest topic</code>)\n"
        "/sources — the articles I know\n/ask — ask a question\n"
        "/follow — follow a story or a question (or “Follow” under a passage); /following, /unfollow\n"
        "/help — this message\n\n"
        "<b>طريقة السؤال</b>: اكتب سؤالك بالعربية أو الإنجليزية (في المجموعات: <code>/ask</code> أو "
        "اذكرني أو ردّ على رسالتي).",
    },
    "answer_header": {"ar": "🔎 من المقالات:", "en": "🔎 From the articles:"},
    "answer_header_period": {"ar": "🔎 من المقالات المؤرخة {period}:", "en": "🔎 From articles dated {period}:"},
    "answer_header_no_story": {
        "ar": "🔎 لم أجد قصة واحدة تجيب عن هذا؛ هذه أقرب المقالات إليه:",
        "en": "🔎 No single story answers this; the closest articles:",
    },
    "no_answer": {
        "ar": "لم أجد في المقالات ما يجيب عن هذا السؤال.\nجرّب صياغة أخرى أو كلمات من الخبر نفسه "
        "(أسماء، أماكن، تواريخ)، أو اطلب /sources لترى ما أعرفه.",
        "en": "I found nothing in the articles that answers this.\nTry other words, or words from the news "
        "itself (names, places, dates), or send /sources to see what I know.",
    },
    "no_more": {"ar": "لا مزيد من النتائج لهذا السؤال.", "en": "No more results for this question."},
    "ask_usage": {
        "ar": "اكتب السؤال بعد الأمر، مثلاً: <code>/ask من أين انطلقت الطائرات المسيرة؟</code>",
        "en": "Put the question after the command, e.g. <code>/ask Where were the drones launched from?</code>",
    },
    "paragraph": {"ar": "الفقرة", "en": "paragraph"},
    "source": {"ar": "المصدر", "en": "Source"},
    "link": {"ar": "الرابط", "en": "link"},
    "more_button": {"ar": "المزيد ◂", "en": "More ▸"},
    "also_button": {"ar": "نقلته أيضاً {n}", "en": "Also reported {n}"},
    "timeline_button": {"ar": "التسلسل الزمني {n}", "en": "Timeline {n}"},
    "also_reported": {"ar": "نقلته أيضاً: {outlets}", "en": "Also reported by: {outlets}"},
    "also_header": {"ar": "📣 نقلته أيضاً:", "en": "📣 Also reported by:"},
    "more_reports": {"ar": "… ومصادر أخرى: {n}", "en": "… and {n} more"},
    "timeline_header": {"ar": "🧭 تسلسل القصة ({n} أحداث):", "en": "🧭 How the story unfolded ({n} events):"},
    "timeline_earlier": {"ar": "… وأحداث أسبق: {n}", "en": "… and {n} earlier"},
    "sources_outlets": {"ar": "حسب المصدر:", "en": "By outlet:"},
    "sources_unnamed": {"ar": "ومن غير مصدر مسمّى:", "en": "With no outlet named:"},
    "full_button": {"ar": "الفقرة كاملة {n}", "en": "Full ¶ {n}"},
    "stale_button": {
        "ar": "انتهت صلاحية هذا الزر. أعد إرسال السؤال من فضلك.",
        "en": "This button has expired. Please send the question again.",
    },
    "changed_button": {
        "ar": "تغيّرت هذه المقالة منذ اقتبستُ منها. أعد إرسال السؤال من فضلك.",
        "en": "This article has changed since I quoted it. Please send the question again.",
    },
    "sources_header": {"ar": "📚 المقالات المفهرسة: {n}", "en": "📚 Indexed articles: {n}"},
    "sources_dates": {"ar": "مؤرخة {span}", "en": "Dated {span}"},
    "sources_newest": {"ar": "الأحدث:", "en": "Newest:"},
    "source_seeds": {"ar": "ملفات المقالات", "en": "article files"},
    "source_file": {"ar": "ملفات مضافة", "en": "added files"},
    "source_link": {"ar": "روابط مضافة", "en": "added links"},
    "latest": {"ar": "🗞 أحدث المقالات:", "en": "🗞 Newest articles:"},
    "latest_topic": {"ar": "🗞 أحدث المقالات عن «{topic}»:", "en": "🗞 Newest articles on “{topic}”:"},
    "latest_none": {
        "ar": "لا أجد مقالات مؤرخة عن هذا. جرّب كلمات أخرى، أو /sources لترى ما لديّ.",
        "en": "I have no dated articles on that. Try other words, or /sources to see what I have.",
    },
    "not_allowed": {
        "ar": "عذراً، هذا البوت خاص ولا يمكنني الرد هنا.",
        "en": "Sorry, this bot is private and cannot answer here.",
    },
    "rate_limited": {
        "ar": "مهلاً قليلاً 🙏 أسئلة كثيرة في وقت قصير. حاول بعد دقيقة.",
        "en": "Please slow down 🙏 too many questions at once. Try again in a minute.",
    },
    "admins_only": {"ar": "هذا الأمر للمشرفين فقط.", "en": "This command is for administrators only."},
    "reloaded": {
        "ar": "✅ أصبح الفهرس الجديد قيد الاستخدام: {build} ({documents} مقالات، {chunks} مقطعاً).",
        "en": "✅ Now serving the new index: {build} ({documents} documents, {chunks} chunks).",
    },
    "reload_unchanged": {
        "ar": "الفهرس الحالي هو الأحدث: {build}.",
        "en": "Already serving the newest index: {build}.",
    },
    "reload_failed": {
        "ar": "⚠️ تعذر فتح الفهرس الجديد، وما زلت أستخدم السابق: {error}",
        "en": "⚠️ Could not open the new index; still serving the previous one: {error}",
    },
    "stats": {
        "ar": "<b>الإحصاءات</b>\nالمقالات: {documents}\nالمقاطع: {chunks}\nالنموذج: {model}\n"
        "عمر الفهرس: {age}\nالأسئلة المجابة: {served}\nالزمن الوسيط: {p50} مللي ثانية",
        "en": "<b>Stats</b>\nDocuments: {documents}\nChunks: {chunks}\nModel: {model}\n"
        "Index age: {age}\nQuestions served: {served}\nMedian latency: {p50} ms",
    },
    "error": {
        "ar": "عذراً، حدث خطأ ما أثناء معالجة رسالتك. حاول مرة أخرى بعد قليل.",
        "en": "Sorry, something went wrong while handling your message. Please try again shortly.",
    },
    "follow_button": {"ar": "تابِع {n}", "en": "Follow {n}"},
    "unfollow_button": {"ar": "إلغاء المتابعة {n}", "en": "Unfollow {n}"},
    "follow_usage": {
        "ar": "اكتب بعد الأمر كلمات أو سؤالاً لأخبرك بكل مقالة جديدة تجيب عنه، مثلاً: "
        "<code>/follow سد الموصل</code>\nأو اضغط «تابِع» تحت مقطع لتتابع قصته.",
        "en": "Put words or a question after the command and I will tell you of every new article that "
        "answers it, e.g. <code>/follow Mosul Dam</code>\nOr press “Follow” under a passage to follow its story.",
    },
    "followed_story": {
        "ar": "🔔 ستصلك كل مستجدات هذه القصة: «{label}». /following لما تتابعه.",
        "en": "🔔 You will hear of every new development in this story: “{label}”. /following lists what you follow.",
    },
    "followed_question": {
        "ar": "🔔 سأخبرك بكل مقالة جديدة تجيب عن: «{label}». /following لما تتابعه.",
        "en": "🔔 I will tell you of every new article that answers: “{label}”. /following lists what you follow.",
    },
    "follow_exists": {"ar": "أنت تتابع هذا من قبل: «{label}».", "en": "You already follow this: “{label}”."},
    "follow_full": {
        "ar": "وصلت إلى الحد الأقصى للمتابعات ({n}). ألغِ متابعة شيء عبر /following ثم أعد المحاولة.",
        "en": "You already follow the most allowed ({n}). Unfollow something with /following, then try again.",
    },
    "follow_admins_only": {
        "ar": "في المجموعات، مشرفو المجموعة وحدهم يتابعون القصص ويلغون متابعتها.",
        "en": "In groups, only the group's administrators follow stories and unfollow them.",
    },
    "following_none": {
        "ar": "لا تتابع شيئاً بعد. اضغط «تابِع» تحت مقطع، أو أرسل <code>/follow كلمات أو سؤال</code>.",
        "en": "You follow nothing yet. Press “Follow” under a passage, "
        "or send <code>/follow words or a question</code>.",
    },
    "following_header": {"ar": "🔔 ما تتابعه ({n}):", "en": "🔔 What you follow ({n}):"},
    "following_story": {"ar": "قصة", "en": "story"},
    "following_question": {"ar": "سؤال", "en": "question"},
    "unfollowed": {"ar": "أُلغيت متابعة: «{label}».", "en": "Unfollowed: “{label}”."},
    "unfollowed_all": {"ar": "أُلغيت كل المتابعات ({n}).", "en": "Unfollowed everything ({n})."},
    "unfollow_usage": {
        "ar": "اكتب رقمها من /following، مثلاً <code>/unfollow 2</code>، أو <code>/unfollow all</code> لإلغائها كلها.",
        "en": "Give its number in /following, e.g. <code>/unfollow 2</code>, or <code>/unfollow all</code> for all.",
    },
    "push_story": {"ar": "🔔 جديد في قصة تتابعها: «{label}»", "en": "🔔 New in a story you follow: “{label}”"},
    "push_question": {"ar": "🔔 جديد عن سؤالك: «{label}»", "en": "🔔 New on your question: “{label}”"},
    "cmd_follow": {"ar": "تابِع قصة أو سؤالاً", "en": "Follow a story or a question"},
    "cmd_following": {"ar": "ما تتابعه", "en": "What you follow"},
    "cmd_unfollow": {"ar": "ألغِ متابعة", "en": "Stop following"},
    "cmd_ask": {"ar": "اطرح سؤالاً عن الأخبار", "en": "Ask a question about the news"},
    "cmd_help": {"ar": "كيف تستخدم سند", "en": "How to use Sanad"},
    "cmd_latest": {"ar": "أحدث المقالات، أو أحدثها عن موضوع", "en": "The newest articles, or the newest on a topic"},
    "cmd_sources": {"ar": "المقالات المفهرسة", "en": "The indexed articles"},
    "cmd_start": {"ar": "ابدأ", "en": "Start"},
}


def text(key: str, lang: str, **values) -> str:
    """The string `key` in `lang` (English for anything but Arabic), with values filled in."""
    template = TEXTS[key]["ar" if lang == "ar" else "en"]
    return template.format(**values) if values else template
