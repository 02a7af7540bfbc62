"""The shortest path through the intake, as a transcript."""


def test_a_person_completes_an_intake(person):
    assert "Reply with the number of your language" in person.says("Hi")
    assert "Do you agree" in person.says("1")
    assert "first name" in person.says("yes")
    assert "ZIP" in person.says("Maria")
    assert "How old" in person.says("90011")
    person.answer_until("gender", {"age_range": "3", "sectors": "1,2", "background": "4", "needs": "1"})
    assert "Good news, Maria" in "\n".join(t for t in [person.last.messages[0].text])
