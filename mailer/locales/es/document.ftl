# Las palabras de un recibo o resumen anual (texto, HTML y PDF).

document-receipt = Recibo { $number }
document-statement = Resumen anual de donaciones { $year } — { $number }
document-issued = Emitido el { $date }
document-replaces = Este recibo reemplaza el recibo anulado { $number }.
document-thanks-one = Gracias por su donación de { $amount } del { $date } ({ $method }) al fondo { $fund }.
document-thanks-year = Gracias por sus donaciones de { $year }. Este resumen enumera cada donación, con los reembolsos descontados.
document-column-date = Fecha
document-column-fund = Fondo
document-column-method = Forma de pago
document-column-amount = Monto
document-column-benefits = Beneficios
document-column-deductible = Deducible
document-total = Total
document-no-benefits = No se proporcionaron bienes ni servicios a cambio de esta contribución.
document-benefits = A cambio de su contribución del { $date } recibió: { $description }, con un valor estimado de buena fe de { $value }.
document-deductible = El monto deducible para fines del impuesto federal sobre la renta es { $amount }.
document-quid-pro-quo = El monto de su contribución deducible para fines del impuesto federal sobre la renta se limita al exceso del dinero aportado sobre el valor de los bienes o servicios proporcionados por { $org }.
document-tribute = { $kind ->
    [memory] En memoria de { $name }.
   *[honor] En honor de { $name }.
}
document-exempt = { $org } es una organización exenta de impuestos según la sección { $section } del Código de Rentas Internas. EIN { $ein }.
document-sample = MUESTRA — NO ES UN RECIBO FISCAL. El nombre legal, el EIN y la dirección de la organización aún no están configurados: este documento muestra datos de ejemplo y no sirve para fines fiscales.
document-signature = Dirección de Desarrollo, { $org }
document-method = { $method ->
    [card] tarjeta
    [bank] transferencia bancaria
    [check] cheque
    [cash] efectivo
    [stock] acciones
    [daf] fondo asesorado por donantes
   *[wire] giro bancario
}
document-date = { $day } de { $month } de { $year }
document-month-1 = enero
document-month-2 = febrero
document-month-3 = marzo
document-month-4 = abril
document-month-5 = mayo
document-month-6 = junio
document-month-7 = julio
document-month-8 = agosto
document-month-9 = septiembre
document-month-10 = octubre
document-month-11 = noviembre
document-month-12 = diciembre
