# Les mots d'un reçu ou d'un relevé annuel (texte, HTML et PDF).

document-receipt = Reçu { $number }
document-statement = Relevé annuel des dons { $year } — { $number }
document-issued = Émis le { $date }
document-replaces = Ce reçu remplace le reçu annulé { $number }.
document-thanks-one = Merci pour votre don de { $amount } du { $date } ({ $method }) au fonds { $fund }.
document-thanks-year = Merci pour vos dons de { $year }. Ce relevé énumère chaque don, remboursements déduits.
document-column-date = Date
document-column-fund = Fonds
document-column-method = Paiement
document-column-amount = Montant
document-column-benefits = Avantages
document-column-deductible = Déductible
document-total = Total
document-no-benefits = Aucun bien ni service n'a été fourni en échange de cette contribution.
document-benefits = En échange de votre contribution du { $date }, vous avez reçu : { $description }, d'une valeur estimée de bonne foi de { $value }.
document-deductible = Le montant déductible de l'impôt fédéral sur le revenu est de { $amount }.
document-quid-pro-quo = Le montant déductible de votre contribution est limité à l'excédent de la somme versée sur la valeur des biens ou services fournis par { $org }.
document-tribute = { $kind ->
    [memory] En mémoire de { $name }.
   *[honor] En l'honneur de { $name }.
}
document-exempt = { $org } est une organisation exonérée d'impôt au titre de la section { $section } de l'Internal Revenue Code. EIN { $ein }.
document-sample = SPÉCIMEN — CE N'EST PAS UN REÇU FISCAL. Le nom légal, l'EIN et l'adresse de l'organisation ne sont pas encore configurés : ce document montre des valeurs d'exemple et ne peut pas servir aux impôts.
document-signature = Direction du développement, { $org }
document-method = { $method ->
    [card] carte
    [bank] virement bancaire
    [check] chèque
    [cash] espèces
    [stock] actions
    [daf] fonds orienté par le donateur
   *[wire] virement
}
document-date = { $day } { $month } { $year }
document-month-1 = janvier
document-month-2 = février
document-month-3 = mars
document-month-4 = avril
document-month-5 = mai
document-month-6 = juin
document-month-7 = juillet
document-month-8 = août
document-month-9 = septembre
document-month-10 = octobre
document-month-11 = novembre
document-month-12 = décembre
