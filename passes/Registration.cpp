//===- Registration.cpp - Anchor of the awq pass library ------------------===//
#include "passes/Passes.h"
