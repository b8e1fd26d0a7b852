"""Thai translations for the tiers work; merged into TH by th_translations.py."""

TH = {
}
