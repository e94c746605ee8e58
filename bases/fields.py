"""Field names of the templates as constants, so no job spells a field by hand.

Derived from :mod:`bases.schema` (a test keeps the two in step): ``ReferralF.PARTNER_EMAIL`` is
``"Partner Email"``. Select options the jobs decide on have their own constants.
"""

from __future__ import annotations

from typing import Final


class PartnerF:
    """Table Partners of base Partners."""

    BASE: Final = "partners"
    TABLE: Final = "Partners"
    NAME: Final = "Name"
    EMAIL: Final = "Email"
    COMPANY: Final = "Company"
    TYPE: Final = "Type"
    STAGE: Final = "Stage"
    OWNER: Final = "Owner"
    JOINED_ON: Final = "Joined On"
    CIRCLE_OVERRIDE: Final = "Circle Override"
    DO_NOT_MESSAGE: Final = "Do Not Message"
    NOTES: Final = "Notes"
    SLACK_USER_ID: Final = "Slack User ID"
    HEALTH_SCORE: Final = "Health Score"
    HEALTH_BAND: Final = "Health Band"
    PREVIOUS_BAND: Final = "Previous Band"
    BAND_CHANGED_ON: Final = "Band Changed On"
    LAST_REFERRAL_ON: Final = "Last Referral On"
    FIRST_REFERRAL_ON: Final = "First Referral On"
    REFERRALS_90D: Final = "Referrals 90d"
    WON_REFERRALS: Final = "Won Referrals"
    HEALTH_DETAIL: Final = "Health Detail"
    REFERRALS_GIVEN: Final = "Referrals Given"
    LAST_GIVEN_ON: Final = "Last Given On"
    SYNC_NOTES: Final = "Sync Notes"


class ActivityF:
    """Table Activities of base Partners."""

    BASE: Final = "partners"
    TABLE: Final = "Activities"
    ACTIVITY: Final = "Activity"
    PARTNER: Final = "Partner"
    KIND: Final = "Kind"
    DATE: Final = "Date"
    NOTES: Final = "Notes"
    SYNC_NOTES: Final = "Sync Notes"


class ReferralF:
    """Table Referrals of base Referrals."""

    BASE: Final = "referrals"
    TABLE: Final = "Referrals"
    REFERRAL: Final = "Referral"
    DIRECTION: Final = "Direction"
    PARTNER_EMAIL: Final = "Partner Email"
    COMPANY: Final = "Company"
    COMPANY_DOMAIN: Final = "Company Domain"
    CONTACT_NAME: Final = "Contact Name"
    CONTACT_EMAIL: Final = "Contact Email"
    NOTES: Final = "Notes"
    STATUS: Final = "Status"
    ATTRIBUTION: Final = "Attribution"
    CONFLICT_WITH: Final = "Conflict With"
    EXPIRES_ON: Final = "Expires On"
    CRM_ID: Final = "CRM ID"
    CRM_STAGE: Final = "CRM Stage"
    CRM_PUSHED_AT: Final = "CRM Pushed At"
    AMOUNT: Final = "Amount"
    INTRO_SENT_AT: Final = "Intro Sent At"
    SYNC_NOTES: Final = "Sync Notes"


class CircleF:
    """Table Circles of base Circles."""

    BASE: Final = "circles"
    TABLE: Final = "Circles"
    NAME: Final = "Name"
    SLACK_CHANNEL_ID: Final = "Slack Channel ID"
    ENTER_SCORE: Final = "Enter Score"
    LEAVE_SCORE: Final = "Leave Score"
    STALE_AFTER_DAYS: Final = "Stale After Days"
    MAX_MEMBERS: Final = "Max Members"
    PERKS: Final = "Perks"
    ACTIVE: Final = "Active"
    SYNC_NOTES: Final = "Sync Notes"


class MemberF:
    """Table Members of base Circles."""

    BASE: Final = "circles"
    TABLE: Final = "Members"
    MEMBER: Final = "Member"
    CIRCLE: Final = "Circle"
    PARTNER_EMAIL: Final = "Partner Email"
    STATUS: Final = "Status"
    JOINED_ON: Final = "Joined On"
    REMOVED_ON: Final = "Removed On"
    REASON: Final = "Reason"
    SYNC_NOTES: Final = "Sync Notes"


class Direction:
    """Options of Direction."""

    FROM_PARTNER: Final = "From partner"
    TO_PARTNER: Final = "To partner"


class RefStatus:
    """Options of Status of a referral."""

    NEW: Final = "New"
    ACCEPTED: Final = "Accepted"
    DUPLICATE: Final = "Duplicate"
    REJECTED: Final = "Rejected"
    IN_CRM: Final = "In CRM"
    INTRODUCED: Final = "Introduced"
    WON: Final = "Won"
    LOST: Final = "Lost"
    EXPIRED: Final = "Expired"


class Attribution:
    """Options of Attribution."""

    SOURCED: Final = "Sourced"
    INFLUENCED: Final = "Influenced"


class MemberStatus:
    """Options of Status of a Members record."""

    ACTIVE: Final = "Active"
    REMOVED: Final = "Removed"
    PENDING_INVITE: Final = "Pending invite"


class Band:
    """Options of Health Band."""

    NEW: Final = "New"
    TOP: Final = "Top"
    HEALTHY: Final = "Healthy"
    AT_RISK: Final = "At risk"
    STALE: Final = "Stale"


class Stage:
    """Options of Stage of a partner."""

    PROSPECT: Final = "Prospect"
    RECRUITED: Final = "Recruited"
    ONBOARDED: Final = "Onboarded"
    ACTIVE: Final = "Active"
    STALE: Final = "Stale"


class Override:
    """Options of Circle Override."""

    AUTO: Final = "Auto"
    ALWAYS_IN: Final = "Always in"
    NEVER_IN: Final = "Never in"
