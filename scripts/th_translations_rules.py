"""Thai translations for the rules work; merged into TH by th_translations.py."""

TH = {
}
