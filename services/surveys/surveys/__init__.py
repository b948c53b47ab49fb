"""The surveys service: consultations, their questionnaires, residents' responses,
results and the published outcome ("you said, we did")."""
