package render

// SetConversionCheck lets external tests see every conversion.
func SetConversionCheck(f func(typed any, converted map[string]any)) { conversionCheck = f }
