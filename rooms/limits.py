"""Maximum lengths of user text, shared by the models, the protocol schema and the forms."""

DISPLAY_NAME_MAX = 60
CHALLENGE_TITLE_MAX = 200
CHALLENGE_CONTEXT_MAX = 4000
CHALLENGE_ASK_MAX = 1000
IDEA_MAX = 2000
REPLY_MAX = 1000
ACTION_MAX = 500
TAKEAWAY_MAX = 1000
CLUSTER_NAME_MAX = 80
REASON_MAX = 300
REF_MAX = 64
EMOJIS = ("👍", "❤️", "💡", "😂", "🎉", "🤔")
