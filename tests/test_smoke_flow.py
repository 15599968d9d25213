from tests.conftest import TO_RECOMMENDED, new_case, walk


def test_report_to_sanction(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED + [
        ("impose_sanction", "ppk:pemkab-bima", {"sanction": "oral_reprimand", "decree_number": "800/1/2024"})])
    case = app.get_case(case_id)
    assert case.state == "sanctioned"
    assert case.sanction["sanction"] == "oral_reprimand"
    assert case.recommendation["sanction"] == "written_reprimand"
    assert case.last_occurred_at == at
    assert [e.trigger for e in app.case_events(case_id)] == ["report"] + [s[0] for s in TO_RECOMMENDED] + [
        "impose_sanction"]
