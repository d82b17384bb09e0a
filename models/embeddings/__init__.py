"""Term encoders shared by the HOList and TacticZero models: s-expressions in, vectors out."""
