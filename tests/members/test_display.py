"""members.display.mask_name: the one way members' names are shown to other members."""

import pytest

from members.display import mask_name


@pytest.mark.parametrize(("first_name", "display_name", "masked"), [
    ("สมชาย", "", "สมช***"),
    ("Somchai", "LINE name", "Som***"),         # the first name wins over the LINE display name
    ("Nok", "", "N***"),                        # three letters or fewer: one letter
    ("  Anna ", "", "Ann***"),
    ("", "นกน้อย", "นกน้***"),                   # no first name: the display name; the tone mark stays on น
    (None, "  Malee ", "Mal***"),
    ("สุนทร", "", "สุนท***"),                     # the vowel sign below stays with its consonant
    ("ไพโรจน์", "", "ไพโรจ***"),                  # leading vowels go with the consonant after them
    ("เกศินี", "", "เก***"),                      # three letters as read (เก ศิ นี): one
    ("", "", "***"),
    (None, None, "***"),
])
def test_names_are_masked_by_letters_as_read(first_name, display_name, masked):
    assert mask_name(first_name, display_name) == masked

