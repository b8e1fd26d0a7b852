"""Events of the missions app, delivered like ``loyalty.events`` (after commit, ids only)."""

REVIEW_PUBLISHED = "review_published"  # review_id, member_id: a product review staff published
REFERRAL_RECORDED = "referral_recorded"  # referral_id, referrer_id: a referred friend registered
MISSION_COMPLETED = "mission_completed"  # progress_id, member_id, mission_id
