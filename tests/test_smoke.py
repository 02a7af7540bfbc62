"""The shortest path through the intake, as a transcript."""


def test_a_person_completes_an_intake(person):
    assert "Do you agree" in person.says("Hi")  # an English greeting starts in English
    assert "first name" in person.says("yes")
    assert "ZIP" in person.says("Maria")
    assert "How old" in person.says("90011")
    person.answer_until("program_choice", {"age_range": "3", "sectors": "1,2", "background": "4", "needs": "1"})
    result = "\n".join(m.text for m in person.last.messages)
    assert "Good news, Maria" in result and "Trainings that fit you" in result
    assert "Great choice" in person.says("1")
    assert person.asked == "gender"
