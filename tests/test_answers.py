"""Reading what people type: folding, numbers in any script, option words, ZIPs."""

import pytest

from intake_flows import answers as a

NUMBERED = [(1, "yes"), (2, "no")]
SECTORS = [(1, "construction"), (2, "healthcare"), (3, "technology")]
SECTOR_WORDS = {"construction": ("Construction and trades", "construccion"), "healthcare": ("Healthcare", "nursing"),
                "technology": ("Technology", "tech")}


@pytest.mark.parametrize("raw,folded", [("Sí", "si"), ("  YES!! ", "yes"), ("No más", "no mas"), ("Ñandú", "nandu"),
                                        ("Có", "co"), ("ДА", "да"), ("네", "네"), ("हाँ", "हां"), ("part-time", "part time")])
def test_fold(raw, folded):
    assert a.fold(raw) == folded


@pytest.mark.parametrize("typed,label", [
    ("کار نمیکنم", "کار نمی\u200cکنم"),  # Persian with and without the zero-width non-joiner
    ("۲۵ تا ۵۴ سال", "25 تا 54 سال"),  # Persian digits
    ("لا اعمل", "لا أعمل"), ("مواصلات", "المواصلات"), ("تكنولوجيا", "التكنولوجيا"),  # hamza, article
    ("अंग्रेजी", "अंग्रेज़ी"),  # Devanagari nukta
    ("25~54歳", "25〜54歳"),  # ASCII tilde and the Japanese wave dash
    ("ចាប់ផ្ដើម", "ចាប់ផ្តើម"),  # Khmer subscript DA and subscript TA, drawn alike
    ("ប្ដូរភាសា", "ប្តូរភាសា"),
])
def test_fold_treats_spellings_people_type_interchangeably_as_one(typed, label):
    assert a.fold(typed) == a.fold(label)


def test_clean_drops_control_characters_and_caps_length():
    assert a.clean("hi\x00\x07 there\u200b") == "hi there"
    assert len(a.clean("x" * 5000)) == 1600
    assert a.clean(None) == ""


@pytest.mark.parametrize("raw,n", [("3", 3), (" 12 ", 12), ("٣", 3), ("۴", 4), ("३", 3), ("๓", 3), ("៣", 3), ("３", 3),
                                   ("three", None), ("1,2", None)])
def test_parse_int_reads_digits_of_any_script(raw, n):
    assert a.parse_int(raw) == n


def test_parse_choice():
    assert a.parse_choice("2", NUMBERED, {}) == "no"
    assert a.parse_choice("nursing", SECTORS, SECTOR_WORDS) == "healthcare"
    assert a.parse_choice("construcción", SECTORS, SECTOR_WORDS) == "construction"
    assert a.parse_choice("9", SECTORS, SECTOR_WORDS) is None
    assert a.parse_choice("1 2", SECTORS, SECTOR_WORDS) is None


@pytest.mark.parametrize("raw,ids", [("1,3", ["construction", "technology"]), ("1 3", ["construction", "technology"]),
                                     ("1, 2 and 3", ["construction", "healthcare", "technology"]),
                                     ("tech y construccion", ["technology", "construction"]), ("3,3", ["technology"]),
                                     ("1,7", None), ("banana, tech", None)])
def test_parse_multi(raw, ids):
    assert a.parse_multi(raw, SECTORS, SECTOR_WORDS) == ids


@pytest.mark.parametrize("raw,zip5", [("90011", "90011"), ("my zip is 90011", "90011"), ("90011-1234", "90011"),
                                      ("٩٠٠١١", "90011"), ("9001", None), ("900111", None)])
def test_parse_zip(raw, zip5):
    assert a.parse_zip(raw) == zip5


DENSE = [(1, "construction"), (2, "healthcare"), (3, "shelter")]
DENSE_WORDS = {"construction": ("건설 및 기술직", "建筑和技工"), "healthcare": ("의료", "医疗保健"),
               "shelter": ("쉼터 또는 임시 주거", "收容所")}


@pytest.mark.parametrize("raw,ids", [("건설", ["construction"]), ("쉼터", ["shelter"]), ("医疗", ["healthcare"]),
                                     ("建筑", ["construction"]), ("医疗，建筑", ["healthcare", "construction"]), ("医", None)])
def test_two_characters_are_a_word_in_dense_scripts(raw, ids):
    assert a.parse_multi(raw, DENSE, DENSE_WORDS) == ids


def test_california_zips_come_from_the_table_as_the_dataset_has_them():
    import zipcodes

    from intake_flows import geo

    # Every 37th ZIP of the range, real and not, and its edges: the table and a scan of the dataset agree.
    for n in [*range(90000, 96200, 37), 90001, 96161, 96162, 96199]:
        zip5 = f"{n:05d}"
        found = zipcodes.matching(zip5)
        assert geo.lookup(zip5) == (geo._info(found[0]) if found else None), zip5
    assert geo.lookup("10001") is not None and geo.lookup("10001").state == "NY"  # outside the range: the dataset
    assert geo.lookup("96701") is not None and geo.lookup("96701").state == "HI"
    assert geo.lookup("9001") is None and geo.lookup("9001x") is None
