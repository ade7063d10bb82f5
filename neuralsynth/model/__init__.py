"""The Mel2Mel network and its components: encoders (MIDI → features), conditioners
(timbre → FiLM), sequence models (BiLSTM)."""
