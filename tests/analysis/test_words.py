"""Decision words: what every surface calls the positive decision."""

import pytest

from analysis import AuditSpec, ProtectedAttribute, decision_words

P = (ProtectedAttribute("group"),)


@pytest.mark.parametrize(
    ("spec", "are", "favorable", "newly"),
    [
        (AuditSpec(decision="approved", positive=("Y",), protected=P), "are approved", "approved",
         "would newly be approved"),
        (AuditSpec(decision="is_escalated", positive=(1,), protected=P), "are escalated", "escalated",
         "would newly be escalated"),
        (AuditSpec(decision="outcome", positive=("Rejected",), positive_is_favorable=False, protected=P),
         "are rejected", "not rejected", "would newly be rejected"),
        (AuditSpec(decision="score_text", positive=("Medium", "High"), positive_is_favorable=False, protected=P),
         "are flagged (score_text in Medium, High)", "not flagged", "would newly be flagged"),
        (AuditSpec(decision="ai_priority", positive=("P1", "P2"), protected=P),
         "are selected (ai_priority in P1, P2)", "selected", "would newly be selected"),
        (AuditSpec(score="risk", threshold=0.5, positive_is_favorable=False, protected=P),
         "are flagged (risk ≥ 0.5)", "not flagged", "would newly be flagged"),
    ],
)  # fmt: skip
def test_words_name_the_decision_in_its_own_terms(spec, are, favorable, newly):
    w = decision_words(spec)
    assert (w.are, w.favorable, w.newly) == (are, favorable, newly)
    assert "not" not in w.are and "positive decision" not in w.are
    assert w.to_dict()["harmful"] is (not spec.positive_is_favorable)
