"""Thai translations for the expiry work; merged into TH by th_translations.py."""

TH = {
}
